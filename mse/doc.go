// Package mse implements Message Stream Encryption (MSE), also called
// Protocol Encryption (PE): the obfuscated, optionally RC4-encrypted
// handshake that BitTorrent clients (libtorrent, Transmission, aria2,
// qBittorrent, Vuze) use in front of the BitTorrent handshake.
//
// The package knows the MSE handshake and the plain BitTorrent handshake's
// first bytes, nothing about sessions or torrents beyond their info-hash.
//
// # The protocol in brief
//
// Both sides exchange Diffie-Hellman keys over a 768-bit prime (160-bit
// private keys), each followed by 0 to 512 random bytes of padding. The
// initiator (A) then sends HASH('req1', S) as a synchronisation marker,
// the torrent's hash masked as HASH('req2', info-hash) xor HASH('req3', S),
// and, RC4-encrypted, a verification constant, the methods it offers
// (crypto_provide: plaintext, RC4), more padding and an optional initial
// payload (IA, normally its BitTorrent handshake). The responder (B) finds
// the torrent by the masked hash, picks one method (crypto_select) and
// answers with its own encrypted verification constant, which A finds by
// searching. Each direction has its own RC4 stream, keyed with
// HASH('keyA'|'keyB', S, info-hash) with the first 1024 bytes dropped.
// After the handshake the stream is RC4-encrypted, or plain if plaintext
// was chosen.
//
// # Dialling (outgoing)
//
// A Dialer applies a Policy and exchanges the BitTorrent handshakes; it is
// the whole outgoing side:
//
//	d := &mse.Dialer{Policy: policy, Memory: &mem} // one per client
//	c, theirs, err := d.Dial(ctx, addr, ours)       // ctx carries the handshake deadline
//	// check theirs (info-hash, peer id); c.Method() says what was negotiated
//
// Under Prefer it tries MSE (offering RC4 and plaintext) and, if the peer
// does not answer it, plain BitTorrent on a new connection; Memory
// remembers such peers so that the next attempt starts with plain. Under
// Require it tries MSE with RC4 only, under Off plain only. Callers that
// need finer control use Initiate directly: our BitTorrent handshake is
// best sent as its initial payload (it saves a round trip).
//
// # Listening (incoming)
//
// The listener computes SKeyHash once per torrent it serves and keeps a
// map from it to the torrent, then hands every accepted connection to
// Accept:
//
//	byHash := map[[20]byte][20]byte{mse.SKeyHash(ih): ih} // kept current as torrents come and go
//	lookup := func(h [20]byte) ([20]byte, bool) { ih, ok := byHash[h]; return ih, ok }
//	c, err := mse.Accept(ctx, conn, policy, lookup)
//	h, err := peerwire.ReadHandshakeHeader(c)
//	if c.Method() != mse.None && h.InfoHash != c.InfoHash() { /* refuse */ }
//
// Accept reads the first 20 bytes (Sniff): a plain handshake starts with
// byte 19 and "BitTorrent protocol", anything else is taken for MSE. The
// returned Conn gives those bytes back, so the plain handshake is parsed
// as usual. For MSE, Respond finds the torrent through lookup (one map
// lookup, never a scan of the torrents) and Policy.Select picks the method.
//
// # After the handshake
//
// A Conn is a net.Conn. With RC4, Read decrypts in place in the caller's
// buffer and Write encrypts into a pooled buffer (the caller's bytes are
// never modified); neither allocates. WriteBuffers is the gathering write
// (header and block in one system call). With Plaintext or None, nothing
// is transformed: once Buffered is 0, Plain hands out the bare connection
// so that sendfile and writev keep working. A session therefore keeps its
// zero-copy upload path for every connection that is not RC4.
//
// # Bounds
//
// Every step is bounded: padding above 512 bytes is refused, the search
// for a synchronisation marker reads at most 512 bytes of padding plus the
// marker, and no read goes past the end of the handshake. The context's
// deadline is the connection's deadline during the handshake and its
// cancellation interrupts it. Failures are *HandshakeError values whose
// Err is one of the package's sentinels (ErrSyncNotFound, ErrUnknownSKey,
// ErrBadSelect, ErrPadTooLong, ...), an I/O error or the context's error;
// nothing a peer sends makes the package panic (both sides are fuzzed).
//
// # RC4
//
// RC4 is implemented here rather than taken from crypto/rc4, at about
// 2.5 times its speed on amd64 and 1.8 times elsewhere (see the comment on
// the rc4 type and BenchmarkRC4). RC4 is weak by today's standards: MSE is obfuscation
// against traffic shaping, not confidentiality against a determined
// attacker, and the handshake is not authenticated.
package mse
