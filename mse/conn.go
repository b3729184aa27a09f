package mse

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Method is a crypto method of MSE, one bit of the crypto_provide and
// crypto_select fields. Methods or'ed together form a set (what an
// initiator provides); a negotiated connection has exactly one.
type Method uint32

const (
	// None is the zero Method: no MSE handshake took place (a plain
	// BitTorrent connection).
	None Method = 0
	// Plaintext: the MSE handshake is encrypted, the stream after it is
	// not (obfuscation of the handshake only; no CPU cost per byte).
	Plaintext Method = 0x01
	// RC4: the whole stream is RC4-encrypted.
	RC4 Method = 0x02
)

// String returns "none", "plaintext", "rc4", or the members of a set
// joined by "|" (unknown bits in hexadecimal).
func (m Method) String() string {
	if m == None {
		return "none"
	}
	var parts []string
	if m&Plaintext != 0 {
		parts = append(parts, "plaintext")
	}
	if m&RC4 != 0 {
		parts = append(parts, "rc4")
	}
	if rest := m &^ (Plaintext | RC4); rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// single reports whether m is exactly one known method.
func (m Method) single() bool { return m == Plaintext || m == RC4 }

// writeChunk is how much a Write encrypts before handing it to the
// connection: large enough for few system calls, small enough to pool.
const writeChunk = 64 << 10

// wbufs holds encryption buffers between writes: a Conn borrows one for
// the length of a Write, so memory follows the number of writes in
// progress, not the number of connections.
var wbufs = sync.Pool{New: func() any { b := make([]byte, writeChunk); return &b }}

// Conn is a connection after the MSE handshake (or a plain one that went
// through Accept or Dialer): a net.Conn whose Read decrypts and whose Write
// encrypts when the method is RC4, and which first returns any bytes
// already taken off the connection (the initiator's initial payload, or
// bytes a listener peeked at). With None or Plaintext it adds nothing
// else; see Plain for handing the bare connection to code that needs it
// (sendfile, writev).
//
// Like any net.Conn, a Conn may be used by several goroutines at once:
// reads are serialised among themselves and writes among themselves, so
// the RC4 streams stay in step with the bytes on the wire. A Write that
// fails (a deadline included) leaves the encrypting stream ahead of the
// peer's, so with RC4 every later Write returns the same error.
type Conn struct {
	conn   net.Conn
	method Method
	skey   [20]byte

	rmu     sync.Mutex
	pending []byte // plaintext to return before reading conn
	dec     *rc4   // nil: the stream is not encrypted

	wmu  sync.Mutex
	enc  *rc4
	werr error // sticky: the encrypting stream is out of step
}

// Read reads decrypted bytes: first those already taken off the
// connection (Buffered), then from the connection, decrypting in place in
// p. It never allocates.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	n, err := c.conn.Read(p)
	if c.dec != nil && n > 0 {
		c.dec.xor(p[:n], p[:n])
	}
	return n, err
}

// Write writes p, encrypted when the method is RC4. p itself is never
// modified: it is encrypted into a pooled buffer, at most 64 KiB per
// system call. It never allocates in the steady state.
func (c *Conn) Write(p []byte) (int, error) {
	if c.enc == nil {
		return c.conn.Write(p)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	bp := wbufs.Get().(*[]byte)
	defer wbufs.Put(bp)
	buf := *bp
	written := 0
	for len(p) > 0 {
		n := min(len(p), len(buf))
		c.enc.xor(buf[:n], p[:n])
		m, err := c.conn.Write(buf[:n])
		written += m
		if err != nil {
			c.werr = err
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// WriteBuffers writes the contents of v and consumes them, as
// net.Buffers.WriteTo does. Without encryption it is exactly
// v.WriteTo(conn) (one writev); with RC4 it gathers the buffers into
// 64 KiB chunks as it encrypts them, so that a message header and its
// block leave in one system call instead of one each.
func (c *Conn) WriteBuffers(v *net.Buffers) (int64, error) {
	if c.enc == nil {
		return v.WriteTo(c.conn)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	bp := wbufs.Get().(*[]byte)
	defer wbufs.Put(bp)
	buf := *bp
	var total int64
	for len(*v) > 0 {
		// Fill one chunk from the front of v.
		n := 0
		for _, b := range *v {
			k := min(len(b), len(buf)-n)
			c.enc.xor(buf[n:n+k], b[:k])
			n += k
			if n == len(buf) {
				break
			}
		}
		if n == 0 {
			consume(v, 0) // only empty buffers were left
			continue
		}
		m, err := c.conn.Write(buf[:n])
		total += int64(m)
		consume(v, n)
		if err != nil {
			c.werr = err
			return total, err
		}
	}
	return total, nil
}

// consume drops the first n bytes of v.
func consume(v *net.Buffers, n int) {
	for n > 0 && len(*v) > 0 {
		b := (*v)[0]
		if n < len(b) {
			(*v)[0] = b[n:]
			return
		}
		n -= len(b)
		(*v)[0] = nil
		*v = (*v)[1:]
	}
	for len(*v) > 0 && len((*v)[0]) == 0 {
		*v = (*v)[1:]
	}
}

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.conn.Close() }

// LocalAddr returns the underlying connection's local address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the underlying connection's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the underlying connection's deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the underlying connection's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the underlying connection's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }

// Method returns the negotiated method: RC4, Plaintext, or None when no
// MSE handshake took place.
func (c *Conn) Method() Method { return c.method }

// Encrypted reports whether the stream is encrypted (the method is RC4).
func (c *Conn) Encrypted() bool { return c.method == RC4 }

// InfoHash returns the torrent the MSE handshake was for (its SKEY), or
// zero when no MSE handshake took place. A responder must check that the
// BitTorrent handshake that follows names the same torrent: nothing in MSE
// stops a peer from asking for one torrent and then handshaking for
// another.
func (c *Conn) InfoHash() [20]byte { return c.skey }

// Buffered returns how many bytes Read will return before it next reads
// the connection.
func (c *Conn) Buffered() int {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return len(c.pending)
}

// NetConn returns the underlying connection. Reading or writing it
// directly bypasses the decryption, the encryption and the buffered bytes;
// see Plain.
func (c *Conn) NetConn() net.Conn { return c.conn }

// Plain returns the underlying connection and true when using it directly
// is the same as using c: the stream is not encrypted (None or Plaintext)
// and no bytes are buffered. The caller may then drop c and use the bare
// connection for everything (a *net.TCPConn keeps sendfile and writev).
// With the answer false and a method other than RC4, only the buffered
// bytes stand in the way: read them through c first (a BitTorrent
// handshake usually consumes them all) and ask again. Writes never need c
// unless the method is RC4.
func (c *Conn) Plain() (net.Conn, bool) {
	if c.method == RC4 {
		return nil, false
	}
	if c.Buffered() > 0 {
		return nil, false
	}
	return c.conn, true
}
