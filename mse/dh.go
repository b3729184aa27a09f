package mse

import (
	"crypto/sha1"
	"fmt"
	"io"
	"math/big"
)

// Sizes of the key exchange.
const (
	// KeyLen is the length of a Diffie-Hellman public key (Ya, Yb) and of
	// the shared secret S on the wire: 768 bits, big-endian, padded with
	// leading zeros.
	KeyLen = 96
	// privLen is the length of a private key: 160 bits, as the spec
	// advises (at least 128; beyond 180 only costs CPU).
	privLen = 20
)

// prime is the spec's 768-bit safe prime P; the generator is 2.
var prime, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"+
		"020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"+
		"4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563", 16)

var (
	two         = big.NewInt(2)
	primeMinus1 = new(big.Int).Sub(prime, big.NewInt(1))
)

// dhKey is one side's key pair.
type dhKey struct {
	x   *big.Int     // private
	pub [KeyLen]byte // Y = 2^x mod P
}

// newDHKey draws a 160-bit private key from rnd (its top bit set, so
// that every key has the full length) and computes the public key.
func newDHKey(rnd io.Reader) (dhKey, error) {
	var b [privLen]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return dhKey{}, fmt.Errorf("mse: random private key: %w", err)
	}
	b[0] |= 0x80
	k := dhKey{x: new(big.Int).SetBytes(b[:])}
	new(big.Int).Exp(two, k.x, prime).FillBytes(k.pub[:])
	return k, nil
}

// shared returns S = Y^x mod P for the peer's public key Y. A Y outside
// 2..P-2 is refused (ErrBadPublicKey): 0, 1 and P-1 would make S
// predictable, and values of P or more are not keys.
func (k dhKey) shared(peer []byte) ([KeyLen]byte, error) {
	var s [KeyLen]byte
	y := new(big.Int).SetBytes(peer)
	if y.Cmp(two) < 0 || y.Cmp(primeMinus1) >= 0 {
		return s, ErrBadPublicKey
	}
	new(big.Int).Exp(y, k.x, prime).FillBytes(s[:])
	return s, nil
}

// hash is the spec's HASH: SHA-1 of the concatenation of its arguments.
func hash(parts ...[]byte) [20]byte {
	h := sha1.New()
	for _, p := range parts {
		h.Write(p)
	}
	var out [20]byte
	h.Sum(out[:0])
	return out
}

// SKeyHash returns HASH('req2', SKEY) for a torrent's info-hash (its
// SKEY). An incoming MSE initiator names the torrent only through this
// hash (masked with the shared secret), so a listener serving many
// torrents computes it once per torrent and keeps a map from it to the
// torrent; Respond's lookup function consults that map. It is cheap but
// not free (one SHA-1): compute it once, not per connection.
func SKeyHash(infoHash [20]byte) [20]byte {
	return hash([]byte("req2"), infoHash[:])
}

// secrets are what both sides derive from S and SKEY.
type secrets struct {
	req1 [20]byte // HASH('req1', S): the initiator's sync marker
	req3 [20]byte // HASH('req3', S): masks SKeyHash on the wire
}

func deriveSecrets(s *[KeyLen]byte) secrets {
	return secrets{
		req1: hash([]byte("req1"), s[:]),
		req3: hash([]byte("req3"), s[:]),
	}
}

// streamKeys returns the RC4 keys: HASH('keyA', S, SKEY) for what the
// initiator (A) sends, HASH('keyB', S, SKEY) for what the responder sends.
func streamKeys(s *[KeyLen]byte, skey [20]byte) (keyA, keyB [20]byte) {
	return hash([]byte("keyA"), s[:], skey[:]), hash([]byte("keyB"), s[:], skey[:])
}

// discard is how much keystream both RC4 streams drop before use.
const discard = 1024

// newStreams keys the two RC4 streams of one side: enc for what it
// sends, dec for what it receives.
func newStreams(s *[KeyLen]byte, skey [20]byte, initiator bool) (enc, dec *rc4) {
	keyA, keyB := streamKeys(s, skey)
	enc, dec = new(rc4), new(rc4)
	if initiator {
		enc.init(keyA[:], discard)
		dec.init(keyB[:], discard)
	} else {
		enc.init(keyB[:], discard)
		dec.init(keyA[:], discard)
	}
	return enc, dec
}
