package utp

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// memNet is an in-process datagram network for tests: loss, duplication,
// delay with jitter, and reordering, decided by a seeded generator. It works
// inside a testing/synctest bubble (delivery uses time.AfterFunc), where
// its delays cost no wall-clock time.
type memNet struct {
	mu      sync.Mutex
	conns   map[netip.AddrPort]*memConn
	rng     *rand.Rand
	next    uint16
	loss    float64                                      // probability a datagram is dropped
	dup     float64                                      // probability it is delivered twice
	reorder float64                                      // probability it is held back an extra delay
	delay   time.Duration                                // one-way delay
	jitter  time.Duration                                // uniform extra delay in [0, jitter)
	filter  func(from, to netip.AddrPort, b []byte) bool // false drops (tests' own rules)
	sent    int
	dropped int
}

func newMemNet(seed uint64) *memNet {
	return &memNet{conns: make(map[netip.AddrPort]*memConn), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), next: 1000}
}

type memPkt struct {
	b    []byte
	from netip.AddrPort
}

type memConn struct {
	n      *memNet
	addr   netip.AddrPort
	in     chan memPkt
	closed chan struct{}
	once   sync.Once
	rd     deadline
}

func (n *memNet) listen() *memConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.next++
	c := &memConn{n: n, addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), n.next),
		in: make(chan memPkt, 8192), closed: make(chan struct{}), rd: newDeadline()}
	n.conns[c.addr] = c
	return c
}

func (c *memConn) ReadFrom(p []byte) (int, net.Addr, error) {
	select {
	case pk := <-c.in:
		return copy(p, pk.b), net.UDPAddrFromAddrPort(pk.from), nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	case <-c.rd.wait():
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (c *memConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	to := addr.(*net.UDPAddr).AddrPort()
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	n := c.n
	n.mu.Lock()
	dst := n.conns[to]
	n.sent++
	if dst == nil || (n.filter != nil && !n.filter(c.addr, to, p)) || n.rng.Float64() < n.loss {
		n.dropped++
		n.mu.Unlock()
		return len(p), nil
	}
	copies := 1
	if n.rng.Float64() < n.dup {
		copies = 2
	}
	delays := [2]time.Duration{}
	for i := 0; i < copies; i++ {
		d := n.delay
		if n.jitter > 0 {
			d += time.Duration(n.rng.Int64N(int64(n.jitter)))
		}
		if n.rng.Float64() < n.reorder {
			d += n.delay/2 + time.Millisecond
		}
		delays[i] = d
	}
	n.mu.Unlock()
	for i := 0; i < copies; i++ {
		pk := memPkt{b: append([]byte(nil), p...), from: c.addr}
		if delays[i] == 0 {
			dst.enqueue(pk)
			continue
		}
		time.AfterFunc(delays[i], func() { dst.enqueue(pk) })
	}
	return len(p), nil
}

func (c *memConn) enqueue(pk memPkt) {
	select {
	case <-c.closed:
	case c.in <- pk:
	default: // a full socket buffer drops
	}
}

func (c *memConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.rd.stop()
		c.n.mu.Lock()
		delete(c.n.conns, c.addr)
		c.n.mu.Unlock()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr                { return net.UDPAddrFromAddrPort(c.addr) }
func (c *memConn) SetDeadline(t time.Time) error      { c.rd.set(t); return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { c.rd.set(t); return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }
