package mse

import (
	"encoding/binary"
	"io"
	"math/big"
	"net"
)

// Scripted peers built from the package's primitives, to send what a
// correct implementation never would.

// fakeIni describes what a scripted initiator sends.
type fakeIni struct {
	pub     []byte // the public key as sent (nil: the real one)
	padA    int
	skey    [20]byte
	badVC   bool
	provide Method
	padC    int // the length field; that many bytes follow (capped at 600)
	ia      []byte
	iaLen   int // the length field when ≥ 0; -1: len(ia)
}

// run plays A's steps 1 and 3 on c, then returns.
func (f fakeIni) run(c net.Conn) error {
	key, err := newDHKey(seeded(77))
	if err != nil {
		return err
	}
	pub := f.pub
	if pub == nil {
		pub = key.pub[:]
	}
	out := append([]byte(nil), pub...)
	out = append(out, make([]byte, f.padA)...)
	if _, err := c.Write(out); err != nil {
		return err
	}
	var yb [KeyLen]byte
	if _, err := io.ReadFull(c, yb[:]); err != nil {
		return err
	}
	s, err := key.shared(yb[:])
	if err != nil {
		return err
	}
	sec := deriveSecrets(&s)
	enc, _ := newStreams(&s, f.skey, true)
	out = append(out[:0], sec.req1[:]...)
	skh := SKeyHash(f.skey)
	for i := range skh {
		skh[i] ^= sec.req3[i]
	}
	out = append(out, skh[:]...)
	start := len(out)
	vc := make([]byte, vcLen)
	if f.badVC {
		vc[3] = 1
	}
	out = append(out, vc...)
	out = binary.BigEndian.AppendUint32(out, uint32(f.provide))
	out = binary.BigEndian.AppendUint16(out, uint16(f.padC))
	out = append(out, make([]byte, min(f.padC, 600))...)
	n := f.iaLen
	if n < 0 {
		n = len(f.ia)
	}
	out = binary.BigEndian.AppendUint16(out, uint16(n))
	out = append(out, f.ia...)
	enc.xor(out[start:], out[start:])
	_, err = c.Write(out)
	return err
}

// fakeRes describes what a scripted responder sends.
type fakeRes struct {
	padB     int
	garbage  int // instead of step 4, this many bytes of noise
	selected Method
	padD     int // the length field; that many bytes follow (capped at 600)
	closeAt  int // close after reading this many bytes of Ya (0: never)
}

// run plays B's steps 2 and 4 on c.
func (f fakeRes) run(c net.Conn) error {
	var ya [KeyLen]byte
	if f.closeAt > 0 {
		io.ReadFull(c, ya[:f.closeAt])
		return c.Close()
	}
	if _, err := io.ReadFull(c, ya[:]); err != nil {
		return err
	}
	key, err := newDHKey(seeded(78))
	if err != nil {
		return err
	}
	s, err := key.shared(ya[:])
	if err != nil {
		return err
	}
	out := append([]byte(nil), key.pub[:]...)
	out = append(out, make([]byte, f.padB)...)
	if _, err := c.Write(out); err != nil {
		return err
	}
	if f.garbage > 0 {
		_, err := c.Write(make([]byte, f.garbage))
		return err
	}
	h := &handshake{r: c}
	sec := deriveSecrets(&s)
	if err := h.sync(sec.req1[:]); err != nil {
		return err
	}
	var rest [20 + vcLen + 4 + 2]byte
	if _, err := io.ReadFull(c, rest[:]); err != nil {
		return err
	}
	enc, dec := newStreams(&s, testInfoHash, false)
	dec.xor(rest[20:], rest[20:])
	padC := int(binary.BigEndian.Uint16(rest[20+vcLen+4:]))
	pad := make([]byte, padC+2)
	if _, err := io.ReadFull(c, pad); err != nil {
		return err
	}
	dec.xor(pad, pad)
	ia := make([]byte, binary.BigEndian.Uint16(pad[padC:]))
	if _, err := io.ReadFull(c, ia); err != nil {
		return err
	}
	out = make([]byte, vcLen, vcLen+6+600)
	out = binary.BigEndian.AppendUint32(out, uint32(f.selected))
	out = binary.BigEndian.AppendUint16(out, uint16(f.padD))
	out = append(out, make([]byte, min(f.padD, 600))...)
	enc.xor(out, out)
	_, err = c.Write(out)
	return err
}

// bigBytes is x as a 96-byte big-endian key.
func bigBytes(x *big.Int) []byte {
	b := make([]byte, KeyLen)
	return x.FillBytes(b)
}
