package mse

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// Limits of the handshake.
const (
	// MaxPad is the longest padding the spec allows (PadA to PadD), and so
	// how far the synchronisation search may look past the public key.
	MaxPad = 512
	// MaxInitialPayload is the longest initial payload (IA): its length
	// is a 16-bit field.
	MaxInitialPayload = 1<<16 - 1
	vcLen             = 8 // the verification constant: 8 zero bytes
)

// Initiate runs the initiator's side (A) of the MSE handshake on conn for
// the torrent infoHash (the SKEY), offering the methods in provide
// (Plaintext, RC4 or both). initialPayload (at most MaxInitialPayload
// bytes; usually our 68-byte BitTorrent handshake, or nil) travels
// encrypted in the handshake itself, which saves a round trip: without it
// the caller can send nothing until the responder has chosen a method.
//
// It returns once the responder's choice has arrived. The stream is then
// ready: the first bytes the caller reads are the responder's (its
// BitTorrent handshake, normally). No byte after the handshake is read
// from conn, so with Plaintext the bare conn is usable at once (see
// Conn.Plain).
//
// ctx bounds the whole handshake: its deadline becomes conn's deadline and
// its cancellation interrupts blocked I/O. On success conn's deadline is
// cleared; on failure the error is a *HandshakeError (see the Err
// sentinels) and the caller should close conn, which is then in an
// unknown state. Initiate does not close conn.
func Initiate(ctx context.Context, conn net.Conn, infoHash [20]byte, provide Method, initialPayload []byte) (*Conn, error) {
	return initiate(ctx, conn, infoHash, provide, initialPayload, rand.Reader)
}

func initiate(ctx context.Context, conn net.Conn, skey [20]byte, provide Method, ia []byte, rnd io.Reader) (*Conn, error) {
	if provide == None || provide&^(Plaintext|RC4) != 0 {
		return nil, fmt.Errorf("mse: Initiate: crypto_provide %v is not a set of known methods", provide)
	}
	if len(ia) > MaxInitialPayload {
		return nil, fmt.Errorf("mse: Initiate: initial payload of %d bytes exceeds %d", len(ia), MaxInitialPayload)
	}
	h := &handshake{r: conn, w: conn, rnd: rnd, initiator: true}
	c := &Conn{conn: conn, skey: skey}
	err := bound(ctx, conn, true, func() error { return h.initiate(c, provide, ia) })
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Respond runs the responder's side (B) of the MSE handshake on conn.
//
// lookup maps the SKEY hash the initiator sent (SKeyHash of the torrent's
// info-hash) to the info-hash; ok false refuses the connection
// (ErrUnknownSKey). It should be a map lookup: the listener computes
// SKeyHash once per torrent. choose picks one method among those the
// initiator offered, or returns an error (which should wrap
// ErrNoCommonMethod) to refuse; Policy.Select is such a function. Both
// are called at most once, from the calling goroutine.
//
// The returned Conn first yields the initiator's initial payload
// (normally its BitTorrent handshake), then the stream; the caller must
// check that the BitTorrent handshake names Conn.InfoHash. conn may be a
// *Conn from Sniff (plain, with the peeked bytes still to be read): Respond
// reads those first and the result wraps the bare connection.
//
// ctx, errors and conn's deadline are as for Initiate. Respond does not
// close conn.
func Respond(ctx context.Context, conn net.Conn, lookup func(skeyHash [20]byte) (infoHash [20]byte, ok bool), choose func(offered Method) (Method, error)) (*Conn, error) {
	return respond(ctx, conn, lookup, choose, rand.Reader)
}

func respond(ctx context.Context, conn net.Conn, lookup func([20]byte) ([20]byte, bool), choose func(Method) (Method, error), rnd io.Reader) (*Conn, error) {
	var peeked []byte
	if pc, ok := conn.(*Conn); ok {
		if pc.method != None {
			return nil, errors.New("mse: Respond: the connection already went through MSE")
		}
		pc.rmu.Lock()
		peeked, pc.pending = pc.pending, nil
		pc.rmu.Unlock()
		conn = pc.conn
	}
	pr := &prefixReader{pre: peeked, r: conn}
	h := &handshake{r: pr, w: conn, rnd: rnd}
	c := &Conn{conn: conn}
	err := bound(ctx, conn, false, func() error { return h.respond(c, lookup, choose) })
	if err != nil {
		return nil, err
	}
	if len(pr.pre) > 0 {
		// Bytes peeked beyond the handshake belong to the stream.
		rest := pr.pre
		if c.dec != nil {
			c.dec.xor(rest, rest)
		}
		c.pending = append(c.pending, rest...)
	}
	return c, nil
}

// handshake is one side's state while the handshake runs.
type handshake struct {
	r         io.Reader
	w         io.Writer
	rnd       io.Reader
	initiator bool
	buf       [MaxPad + 20]byte // the synchronisation window; scratch
}

func (h *handshake) fail(step string, err error) error {
	return &HandshakeError{Initiator: h.initiator, Step: step, Err: err}
}

func (h *handshake) readFull(p []byte) error {
	_, err := io.ReadFull(h.r, p)
	return err
}

// appendPad appends 0 to MaxPad random bytes, the length random too.
func (h *handshake) appendPad(dst []byte) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(h.rnd, n[:]); err != nil {
		return dst, err
	}
	k := int(binary.BigEndian.Uint16(n[:])) % (MaxPad + 1)
	dst = append(dst, make([]byte, k)...)
	_, err := io.ReadFull(h.rnd, dst[len(dst)-k:])
	return dst, err
}

// readKey reads the peer's public key. The peer ending the connection
// first (a reset included: a plaintext-only peer closes with our key
// unread) is ErrShortKey.
func (h *handshake) readKey(y *[KeyLen]byte) error {
	err := h.readFull(y[:])
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("%w: %w", ErrShortKey, err)
	}
	return err
}

// sync reads up to and including marker, which must begin within MaxPad
// bytes. It reads no byte past the marker: each read asks for exactly the
// bytes that would complete the earliest position where the marker may
// still begin, so what follows stays in the connection (and a Plaintext
// stream can be handed over bare).
func (h *handshake) sync(marker []byte) error {
	m := len(marker)
	buf := h.buf[:MaxPad+m]
	n := 0    // bytes read
	cand := 0 // the earliest position the marker may still begin at
	for {
		if cand > MaxPad {
			return ErrSyncNotFound
		}
		if err := h.readFull(buf[n : cand+m]); err != nil {
			return err
		}
		n = cand + m
		if bytes.Equal(buf[cand:n], marker) {
			return nil
		}
		// Skip the positions whose bytes so far already differ from the
		// marker's first bytes.
		for cand++; cand < n && !bytes.HasPrefix(marker, buf[cand:n]); cand++ {
		}
	}
}

// initiate is steps 1, 3 and 5 of the spec for A, filling c.
func (h *handshake) initiate(c *Conn, provide Method, ia []byte) error {
	key, err := newDHKey(h.rnd)
	if err != nil {
		return h.fail("key", err)
	}
	// 1 A->B: Ya, PadA
	out := make([]byte, 0, KeyLen+MaxPad)
	out = append(out, key.pub[:]...)
	if out, err = h.appendPad(out); err != nil {
		return h.fail("padding", err)
	}
	if _, err := h.w.Write(out); err != nil {
		return h.fail("send public key", err)
	}

	// 2 B->A: Yb, PadB (PadB is skipped by the sync below)
	var yb [KeyLen]byte
	if err := h.readKey(&yb); err != nil {
		return h.fail("read public key", err)
	}
	s, err := key.shared(yb[:])
	if err != nil {
		return h.fail("read public key", err)
	}
	sec := deriveSecrets(&s)
	enc, dec := newStreams(&s, c.skey, true)

	// 3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
	// ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
	out = out[:0]
	out = append(out, sec.req1[:]...)
	skh := SKeyHash(c.skey)
	for i := range skh {
		skh[i] ^= sec.req3[i]
	}
	out = append(out, skh[:]...)
	start := len(out)
	out = append(out, make([]byte, vcLen)...)
	out = binary.BigEndian.AppendUint32(out, uint32(provide))
	out = binary.BigEndian.AppendUint16(out, 0) // len(PadC): reserved for extensions, so empty
	out = binary.BigEndian.AppendUint16(out, uint16(len(ia)))
	out = append(out, ia...)
	enc.xor(out[start:], out[start:])
	if _, err := h.w.Write(out); err != nil {
		return h.fail("send crypto_provide", err)
	}

	// 4 B->A: ENCRYPT(VC, crypto_select, len(padD), padD), then the stream.
	var vc [vcLen]byte
	dec.xor(vc[:], vc[:]) // what VC looks like encrypted
	if err := h.sync(vc[:]); err != nil {
		return h.fail("sync", err)
	}
	var f [4 + 2]byte
	if err := h.readFull(f[:]); err != nil {
		return h.fail("read crypto_select", err)
	}
	dec.xor(f[:], f[:])
	sel := Method(binary.BigEndian.Uint32(f[:4]))
	if !sel.single() || sel&provide == 0 {
		return h.fail("crypto_select", fmt.Errorf("%w: %v (offered %v)", ErrBadSelect, sel, provide))
	}
	padD := int(binary.BigEndian.Uint16(f[4:]))
	if padD > MaxPad {
		return h.fail("padding", fmt.Errorf("%w: PadD %d", ErrPadTooLong, padD))
	}
	if err := h.readFull(h.buf[:padD]); err != nil {
		return h.fail("read padding", err)
	}
	dec.xor(h.buf[:padD], h.buf[:padD]) // keeps the stream in step

	c.method = sel
	if sel == RC4 {
		c.enc, c.dec = enc, dec
	}
	return nil
}

// respond is steps 2 and 4 of the spec for B, filling c.
func (h *handshake) respond(c *Conn, lookup func([20]byte) ([20]byte, bool), choose func(Method) (Method, error)) error {
	// 1 A->B: Ya, PadA (PadA is skipped by the sync below)
	var ya [KeyLen]byte
	if err := h.readKey(&ya); err != nil {
		return h.fail("read public key", err)
	}
	key, err := newDHKey(h.rnd)
	if err != nil {
		return h.fail("key", err)
	}
	s, err := key.shared(ya[:])
	if err != nil {
		return h.fail("read public key", err)
	}

	// 2 B->A: Yb, PadB
	out := make([]byte, 0, KeyLen+MaxPad)
	out = append(out, key.pub[:]...)
	if out, err = h.appendPad(out); err != nil {
		return h.fail("padding", err)
	}
	if _, err := h.w.Write(out); err != nil {
		return h.fail("send public key", err)
	}

	// 3 A->B: HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
	// ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
	sec := deriveSecrets(&s)
	if err := h.sync(sec.req1[:]); err != nil {
		return h.fail("sync", err)
	}
	var f [20 + vcLen + 4 + 2]byte
	if err := h.readFull(f[:]); err != nil {
		return h.fail("read stream key", err)
	}
	var skh [20]byte
	for i := range skh {
		skh[i] = f[i] ^ sec.req3[i]
	}
	skey, ok := lookup(skh)
	if !ok {
		return h.fail("stream key", ErrUnknownSKey)
	}
	c.skey = skey
	enc, dec := newStreams(&s, skey, false)
	g := f[20:]
	dec.xor(g, g)
	if !bytes.Equal(g[:vcLen], make([]byte, vcLen)) {
		return h.fail("verification constant", ErrBadVC)
	}
	provide := Method(binary.BigEndian.Uint32(g[vcLen:]))
	sel, err := choose(provide)
	if err != nil {
		return h.fail("crypto_provide", err)
	}
	if !sel.single() || sel&provide == 0 {
		return h.fail("crypto_provide", fmt.Errorf("%w: chose %v of %v", ErrNoCommonMethod, sel, provide))
	}
	padC := int(binary.BigEndian.Uint16(g[vcLen+4:]))
	if padC > MaxPad {
		return h.fail("padding", fmt.Errorf("%w: PadC %d", ErrPadTooLong, padC))
	}
	pad := h.buf[:padC+2]
	if err := h.readFull(pad); err != nil {
		return h.fail("read padding", err)
	}
	dec.xor(pad, pad)
	if n := int(binary.BigEndian.Uint16(pad[padC:])); n > 0 {
		ia := make([]byte, n)
		if err := h.readFull(ia); err != nil {
			return h.fail("read initial payload", err)
		}
		dec.xor(ia, ia)
		c.pending = ia
	}

	// 4 B->A: ENCRYPT(VC, crypto_select, len(padD), padD)
	var r [vcLen + 4 + 2]byte // len(PadD) 0: reserved for extensions
	binary.BigEndian.PutUint32(r[vcLen:], uint32(sel))
	enc.xor(r[:], r[:])
	if _, err := h.w.Write(r[:]); err != nil {
		return h.fail("send crypto_select", err)
	}

	c.method = sel
	if sel == RC4 {
		c.enc, c.dec = enc, dec
	}
	return nil
}

// prefixReader reads pre, then r.
type prefixReader struct {
	pre []byte
	r   io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// aLongTimeAgo is a deadline in the past: it makes blocked I/O return.
var aLongTimeAgo = time.Unix(1, 0)

// bound runs f with conn's deadline taken from ctx, interrupting it when
// ctx ends; on success it clears the deadline.
func bound(ctx context.Context, conn net.Conn, initiator bool, f func() error) error {
	if err := ctx.Err(); err != nil {
		return &HandshakeError{Initiator: initiator, Step: "start", Err: err}
	}
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		conn.SetDeadline(aLongTimeAgo)
		close(fired)
	})
	err := f()
	if !stop() {
		// ctx ended while f ran: conn's deadline is in the past (once the
		// callback is done) and the handshake counts as failed.
		<-fired
		if err == nil {
			err = &HandshakeError{Initiator: initiator, Step: "done", Err: ctx.Err()}
		}
	}
	if err != nil {
		var he *HandshakeError
		if cerr := ctx.Err(); cerr != nil && errors.As(err, &he) && !errors.Is(he.Err, cerr) {
			he.Err = fmt.Errorf("%w (%v)", cerr, he.Err)
		}
		return err
	}
	conn.SetDeadline(time.Time{})
	return nil
}
