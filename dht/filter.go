package dht

import (
	"errors"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DropReason says why a datagram was dropped before the DHT library saw it.
type DropReason uint8

// Reasons a datagram is dropped.
const (
	DropNone        DropReason = iota // accepted
	DropSource                        // source address unusable (port 0, not UDP, local under AddrPolicyPublic)
	DropTooBig                        // larger than the packet limit
	DropMalformed                     // not a KRPC message this node handles (CheckKRPC)
	DropUnsupported                   // BEP 44 put/get
	DropRate                          // the source sent faster than its rate limit
	numDropReasons
)

var dropNames = [numDropReasons]string{"none", "source", "too_big", "malformed", "unsupported", "rate"}

// String returns the reason's name, the key of Stats.Dropped.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// Per-source rate limit defaults: a token bucket per source address (per IP,
// or per /64 for IPv6, under AddrPolicyPublic; per IP and port otherwise).
const (
	DefaultSourceRate  = 25 // packets per second
	DefaultSourceBurst = 50
	rateSlots          = 4096
)

// filter decides which datagrams reach the library. It keeps fixed memory:
// the rate limiter is a table of rateSlots token buckets indexed by a keyed
// hash of the source, so many sources share a bucket rather than grow a
// map (a collision can only slow a source down, never let one through
// faster).
type filter struct {
	public bool
	max    int
	rate   float64
	burst  float64
	now    func() time.Time
	seed   maphash.Seed

	mu    sync.Mutex
	slots [rateSlots]bucket

	dropped [numDropReasons]atomic.Uint64
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFilter(public bool, maxPacket int, rate, burst float64, now func() time.Time) *filter {
	if now == nil {
		now = time.Now
	}
	return &filter{public: public, max: maxPacket, rate: rate, burst: burst, now: now, seed: maphash.MakeSeed()}
}

// check returns DropNone for a datagram that may reach the library, and
// counts the others by reason.
func (f *filter) check(b []byte, from netip.AddrPort) DropReason {
	r := f.classify(b, from)
	if r != DropNone {
		f.dropped[r].Add(1)
	}
	return r
}

func (f *filter) classify(b []byte, from netip.AddrPort) DropReason {
	if !usableAddr(from, f.public) {
		return DropSource
	}
	if len(b) > f.max {
		return DropTooBig
	}
	if !f.allow(from) {
		return DropRate
	}
	if err := CheckKRPC(b); err != nil {
		if errors.Is(err, ErrUnsupportedQuery) {
			return DropUnsupported
		}
		return DropMalformed
	}
	return DropNone
}

// allow takes a token from the source's bucket.
func (f *filter) allow(from netip.AddrPort) bool {
	var h maphash.Hash
	h.SetSeed(f.seed)
	a := from.Addr()
	if f.public {
		if a.Is6() {
			p, _ := a.Prefix(64)
			a = p.Addr()
		}
		b := a.As16()
		h.Write(b[:])
	} else {
		b, _ := from.MarshalBinary()
		h.Write(b)
	}
	i := h.Sum64() % rateSlots
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &f.slots[i]
	if s.last.IsZero() {
		s.tokens = f.burst
	} else if d := now.Sub(s.last); d > 0 {
		s.tokens = min(f.burst, s.tokens+d.Seconds()*f.rate)
	}
	s.last = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func (f *filter) droppedCounts() map[string]uint64 {
	m := make(map[string]uint64, numDropReasons-1)
	for r := DropReason(1); r < numDropReasons; r++ {
		m[r.String()] = f.dropped[r].Load()
	}
	return m
}

// errAddrRefused is what writes to addresses outside the policy return.
var errAddrRefused = errors.New("dht: destination address refused by the address policy")

// filterConn is the PacketConn the library reads: datagrams pass through
// the filter first. It also keeps the library from panicking when the
// socket fails while the node runs (the library treats every read error
// as fatal unless it closed the socket itself): such an error is logged
// and the read parks until Close.
type filterConn struct {
	inner  net.PacketConn
	f      *filter
	logger *slog.Logger

	closeOnce sync.Once
	closed    chan struct{}

	mu       sync.Mutex
	reading  int           // ReadFrom calls in progress
	isClosed bool          // no ReadFrom starts after Close
	idle     chan struct{} // closed once isClosed and reading == 0
}

func newFilterConn(inner net.PacketConn, f *filter, logger *slog.Logger) *filterConn {
	return &filterConn{inner: inner, f: f, logger: logger, closed: make(chan struct{}), idle: make(chan struct{})}
}

// ReadFrom returns the next datagram that passes the filter.
func (c *filterConn) ReadFrom(b []byte) (int, net.Addr, error) {
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		return 0, nil, net.ErrClosed
	}
	c.reading++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.reading--
		if c.isClosed && c.reading == 0 {
			close(c.idle)
		}
		c.mu.Unlock()
	}()
	for {
		n, addr, err := c.inner.ReadFrom(b)
		if err != nil {
			select {
			case <-c.closed:
			default:
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				c.logger.Error("dht socket failed; the node stops answering", "err", err)
				<-c.closed
			}
			return 0, nil, net.ErrClosed
		}
		if n == len(b) { // may have been truncated
			c.f.dropped[DropTooBig].Add(1)
			continue
		}
		if c.f.check(b[:n], addrPortOf(addr)) != DropNone {
			continue
		}
		return n, addr, nil
	}
}

func (c *filterConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if !usableAddr(addrPortOf(addr), c.f.public) {
		return 0, errAddrRefused
	}
	return c.inner.WriteTo(b, addr)
}

// Close closes the wrapped connection once.
func (c *filterConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.isClosed = true
		if c.reading == 0 {
			close(c.idle)
		}
		c.mu.Unlock()
		close(c.closed)
		err = c.inner.Close()
	})
	return err
}

func (c *filterConn) LocalAddr() net.Addr                { return c.inner.LocalAddr() }
func (c *filterConn) SetDeadline(t time.Time) error      { return c.inner.SetDeadline(t) }
func (c *filterConn) SetReadDeadline(t time.Time) error  { return c.inner.SetReadDeadline(t) }
func (c *filterConn) SetWriteDeadline(t time.Time) error { return c.inner.SetWriteDeadline(t) }
