package utp

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// rawQueue bounds the non-uTP datagrams waiting for ReadFrom; beyond it
// they are dropped, as a full socket buffer would.
const rawQueue = 256

type rawPkt struct {
	buf  *[]byte
	n    int
	addr netip.AddrPort
}

// rawConn is the Socket's net.PacketConn view for other protocols.
type rawConn struct {
	s      *Socket
	ch     chan rawPkt
	once   sync.Once
	closed chan struct{} // the view was closed
	dead   chan struct{} // the Socket's reader has exited
	rd     deadline
}

func newRawConn(s *Socket) *rawConn {
	return &rawConn{s: s, ch: make(chan rawPkt, rawQueue), closed: make(chan struct{}), dead: make(chan struct{}), rd: newDeadline()}
}

// PacketConn returns the Socket's view for other UDP protocols on the same
// port, such as a DHT (github.com/anacrolix/dht/v2's ServerConfig.Conn):
// ReadFrom returns the datagrams that are not uTP (whose first byte is not
// a uTP type and version, so every bencoded KRPC message), WriteTo sends
// through the Socket's UDP socket. Up to 256 datagrams wait for ReadFrom;
// more are dropped. Closing the view stops delivery to it without closing
// the Socket. It is the same view on every call; safe for concurrent use.
func (s *Socket) PacketConn() net.PacketConn { return s.raw }

func (r *rawConn) deliver(data []byte, addr netip.AddrPort) {
	select {
	case <-r.closed:
		return
	default:
	}
	r.s.stats.rxOther.Add(1)
	b := getBuf(len(data))
	n := copy(*b, data)
	select {
	case r.ch <- rawPkt{buf: b, n: n, addr: addr}:
	default:
		putBuf(b)
		r.s.stats.rxOtherDropped.Add(1)
	}
}

func (r *rawConn) shutdown() { close(r.dead) }

// ReadFrom returns the next non-uTP datagram (truncated to len(p)).
func (r *rawConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case <-r.closed:
		return 0, nil, net.ErrClosed
	default:
	}
	select {
	case pk := <-r.ch:
		n := copy(p, (*pk.buf)[:pk.n])
		putBuf(pk.buf)
		return n, net.UDPAddrFromAddrPort(pk.addr), nil
	case <-r.closed:
		return 0, nil, net.ErrClosed
	case <-r.dead:
		return 0, nil, net.ErrClosed
	case <-r.rd.wait():
		return 0, nil, os.ErrDeadlineExceeded
	}
}

// WriteTo sends p to addr (a *net.UDPAddr) from the Socket's UDP socket.
func (r *rawConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-r.closed:
		return 0, net.ErrClosed
	default:
	}
	return r.s.pc.WriteTo(p, addr)
}

// Close closes the view only; the Socket goes on.
func (r *rawConn) Close() error {
	err := net.ErrClosed
	r.once.Do(func() {
		close(r.closed)
		err = nil
		for {
			select {
			case pk := <-r.ch:
				putBuf(pk.buf)
				continue
			default:
			}
			return
		}
	})
	return err
}

func (r *rawConn) LocalAddr() net.Addr { return r.s.pc.LocalAddr() }

func (r *rawConn) SetDeadline(t time.Time) error {
	r.rd.set(t)
	return nil
}

func (r *rawConn) SetReadDeadline(t time.Time) error {
	r.rd.set(t)
	return nil
}

// SetWriteDeadline is accepted and ignored: UDP writes do not wait.
func (r *rawConn) SetWriteDeadline(time.Time) error { return nil }

// deadline is a settable point in time whose wait channel is closed when
// it passes: one timer per deadline set, never per packet.
type deadline struct {
	mu    sync.Mutex
	t     *time.Timer
	ch    chan struct{}
	fired bool
	gen   uint64 // a timer that fires for an older setting does nothing
}

func newDeadline() deadline { return deadline{ch: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.t != nil {
		d.t.Stop()
		d.t = nil
	}
	if d.fired {
		d.ch = make(chan struct{})
		d.fired = false
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.ch)
		d.fired = true
		return
	}
	gen := d.gen
	d.t = time.AfterFunc(dur, func() { d.expire(gen) })
}

func (d *deadline) expire(gen uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.gen == gen && !d.fired {
		close(d.ch)
		d.fired = true
	}
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

// expired reports whether the deadline has passed.
func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fired
}

// stop releases the timer.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	if d.t != nil {
		d.t.Stop()
		d.t = nil
	}
}
