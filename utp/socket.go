package utp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors. Reset, refusal and timeouts wrap the syscall errors TCP would give,
// so errors.Is(err, syscall.ECONNRESET) works the same for both transports.
var (
	ErrReset              = fmt.Errorf("utp: connection reset by peer: %w", syscall.ECONNRESET)
	ErrRefused            = fmt.Errorf("utp: connection refused: %w", syscall.ECONNREFUSED)
	ErrTimeout      error = &timeoutError{}
	ErrTooManyConns       = errors.New("utp: too many connections")
)

type timeoutError struct{}

func (*timeoutError) Error() string   { return "utp: connection timed out" }
func (*timeoutError) Timeout() bool   { return true }
func (*timeoutError) Temporary() bool { return false }
func (*timeoutError) Unwrap() error   { return syscall.ETIMEDOUT }

type connKey struct {
	addr netip.AddrPort
	id   uint16 // our receive id: what the peer puts in its packets
}

// Socket is one UDP socket shared by every uTP connection on it and by
// other UDP protocols (see PacketConn). It is a net.Listener for incoming
// connections and dials outgoing ones. Its methods are safe for concurrent use.
type Socket struct {
	pc    net.PacketConn
	io    transport
	cfg   Config
	epoch time.Time
	tsOff uint32

	mu       sync.RWMutex
	conns    map[connKey]*Conn
	halfOpen int
	closed   bool
	views    int  // open Listener views
	refuse   bool // the last Listener view closed: incoming SYNs are refused
	acceptDL deadline

	acceptCh chan *Conn
	closing  chan struct{}
	raw      *rawConn

	tmu       sync.Mutex
	theap     timerHeap
	timerWake chan struct{}

	wg sync.WaitGroup

	stats struct {
		rx, tx, rxBad, rxNoConn, rxOther, rxOtherDropped, synDropped atomic.Uint64
	}
}

// Listen opens a UDP socket (network "udp", "udp4" or "udp6") and returns
// a Socket over it.
func Listen(network, address string, cfg Config) (*Socket, error) {
	pc, err := net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return New(pc, cfg)
}

// New returns a Socket over pc, which it owns from now on: Close closes pc.
// pc is read by the Socket's own goroutine only; write other protocols'
// datagrams through PacketConn. A *net.UDPConn gets batched system calls
// on Linux and larger kernel buffers; any other net.PacketConn whose
// addresses are *net.UDPAddr works too (tests use in-memory ones).
func New(pc net.PacketConn, cfg Config) (*Socket, error) {
	s := newSocket(pc, cfg)
	if u, ok := pc.(*net.UDPConn); ok {
		// Best effort: the kernel caps these at net.core.[rw]mem_max
		// (raised past it where the process may, see growBuffers).
		_ = u.SetReadBuffer(socketBuffer)
		_ = u.SetWriteBuffer(socketBuffer)
		growBuffers(u)
	}
	s.wg.Add(2)
	go s.readLoop()
	go s.timerLoop()
	return s, nil
}

// newSocket builds a Socket without starting its goroutines (tests drive
// connections directly).
func newSocket(pc net.PacketConn, cfg Config) *Socket {
	s := &Socket{
		pc:        pc,
		io:        newTransport(pc),
		cfg:       cfg.withDefaults(),
		epoch:     time.Now(),
		tsOff:     rand.Uint32(),
		conns:     make(map[connKey]*Conn),
		closing:   make(chan struct{}),
		timerWake: make(chan struct{}, 1),
	}
	s.acceptCh = make(chan *Conn, s.cfg.AcceptBacklog)
	s.acceptDL = newDeadline()
	s.raw = newRawConn(s)
	return s
}

// micros is the timestamp clock: microseconds on a wrapping 32-bit clock
// with a random offset.
func (s *Socket) micros(now time.Time) uint32 {
	return uint32(now.Sub(s.epoch).Microseconds()) + s.tsOff
}

// Addr returns the local address of the UDP socket.
func (s *Socket) Addr() net.Addr { return s.pc.LocalAddr() }

// Accept waits for the next incoming uTP connection and returns it as a
// net.Conn (a *Conn). A connection is returned once its initiator has
// answered our reply to its SYN (with an ACK or data), which proves its
// address. After Close it returns net.ErrClosed.
func (s *Socket) Accept() (net.Conn, error) {
	return s.AcceptContext(context.Background())
}

// AcceptContext is Accept that also returns ctx.Err() when ctx ends first.
func (s *Socket) AcceptContext(ctx context.Context) (*Conn, error) {
	if s.acceptDL.expired() {
		return nil, os.ErrDeadlineExceeded
	}
	select {
	case c := <-s.acceptCh:
		return c, nil
	case <-s.closing:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.acceptDL.wait():
		return nil, os.ErrDeadlineExceeded
	}
}

// Close closes the Socket: every connection is reset and fails with
// net.ErrClosed, Accept and the PacketConn view return net.ErrClosed, the
// underlying net.PacketConn is closed and the Socket's goroutines have
// exited when Close returns. A second Close returns net.ErrClosed.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	close(s.closing)
	s.acceptDL.stop()
	b := batchPool.Get().(*txBatch)
	for _, c := range conns {
		c.mu.Lock()
		c.sendReset(b)
		c.destroy(net.ErrClosed)
		s.flush(b)
		c.mu.Unlock()
	}
	batchPool.Put(b)
	err := s.pc.Close()
	s.wg.Wait()
	for {
		select {
		case c := <-s.acceptCh:
			_ = c
			continue
		default:
		}
		break
	}
	return err
}

// Dial is DialContext with context.Background (bounded by SYN retries).
func (s *Socket) Dial(address string) (net.Conn, error) {
	return s.DialContext(context.Background(), address)
}

// DialContext connects to address ("host:port"; a host name is resolved)
// and returns the connection as a net.Conn (a *Conn). It fails with
// ErrRefused when the peer resets the SYN, ErrTimeout after the SYN
// retries, ctx.Err() when ctx ends first, net.ErrClosed after Close.
func (s *Socket) DialContext(ctx context.Context, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return nil, err
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		pn, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
		if err != nil {
			return nil, err
		}
		ap = netip.AddrPortFrom(ips[0], uint16(pn))
	}
	c, err := s.DialAddrPort(ctx, ap)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialAddrPort is DialContext for an address already resolved.
func (s *Socket) DialAddrPort(ctx context.Context, addr netip.AddrPort) (*Conn, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	if len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		return nil, ErrTooManyConns
	}
	var key connKey
	ok := false
	for range 64 {
		id := uint16(rand.Uint32())
		key = connKey{addr, id}
		_, used := s.conns[key]
		_, usedSend := s.conns[connKey{addr, id + 1}]
		if !used && !usedSend {
			ok = true
			break
		}
	}
	if !ok {
		s.mu.Unlock()
		return nil, ErrTooManyConns
	}
	c := newConn(s, key, key.id+1, csSynSent)
	s.conns[key] = c
	s.mu.Unlock()

	now := time.Now()
	c.mu.Lock()
	c.queueSyn()
	b := batchPool.Get().(*txBatch)
	c.flush(b, now)
	s.flush(b)
	c.reschedule(now)
	c.mu.Unlock()
	batchPool.Put(b)

	select {
	case <-c.dialDone:
	case <-ctx.Done():
		c.mu.Lock()
		c.destroy(ctx.Err())
		c.mu.Unlock()
		return nil, ctx.Err()
	}
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// SocketStats are a Socket's counters.
type SocketStats struct {
	Received, Sent      uint64 // datagrams
	Malformed           uint64 // uTP-looking datagrams that did not parse
	NoConnection        uint64 // uTP packets for no connection (answered with RESET)
	Other, OtherDropped uint64 // non-uTP datagrams for the PacketConn view, and those dropped (queue full)
	SynDropped          uint64 // SYNs refused: half-open or connection limit, no listener
	Conns, HalfOpen     int    // connections now in the table, and of them half-open
}

// Stats returns the Socket's counters.
func (s *Socket) Stats() SocketStats {
	s.mu.RLock()
	conns, half := len(s.conns), s.halfOpen
	s.mu.RUnlock()
	return SocketStats{
		Received: s.stats.rx.Load(), Sent: s.stats.tx.Load(), Malformed: s.stats.rxBad.Load(),
		NoConnection: s.stats.rxNoConn.Load(), Other: s.stats.rxOther.Load(),
		OtherDropped: s.stats.rxOtherDropped.Load(), SynDropped: s.stats.synDropped.Load(),
		Conns: conns, HalfOpen: half,
	}
}

// flush sends b's datagrams and empties it.
func (s *Socket) flush(b *txBatch) {
	if len(b.msgs) == 0 {
		return
	}
	s.stats.tx.Add(uint64(len(b.msgs)))
	_ = s.io.writeBatch(b) // a failed send is a lost datagram
	for i := range b.msgs {
		b.msgs[i] = txMsg{}
	}
	b.msgs = b.msgs[:0]
}

// remove drops c from the table (c.mu held).
func (s *Socket) remove(c *Conn, halfOpen bool) {
	s.mu.Lock()
	if s.conns[c.key] == c {
		delete(s.conns, c.key)
	}
	if halfOpen {
		s.halfOpen--
	}
	s.mu.Unlock()
}

// readLoop is the Socket's one reading goroutine: it reads batches of
// datagrams and hands each to its connection, holding a connection's lock
// across a run of consecutive packets for it and sending what they caused
// before releasing it.
func (s *Socket) readLoop() {
	defer s.wg.Done()
	defer s.raw.shutdown()
	msgs := make([]rxMsg, batchSize)
	for i := range msgs {
		msgs[i].buf = make([]byte, maxDatagram+1)
	}
	b := newTxBatch()
	var pkt packet
	errDelay := time.Duration(0)
	for {
		n, err := s.io.readBatch(msgs)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			// Transient (an ICMP report on an unconnected socket, or a
			// PacketConn's own error): go on, backing off if it persists.
			errDelay = min(max(2*errDelay, time.Millisecond), 100*time.Millisecond)
			select {
			case <-time.After(errDelay):
			case <-s.closing:
				return
			}
			continue
		}
		errDelay = 0
		now := time.Now()
		var cur *Conn
		for i := 0; i < n; i++ {
			m := &msgs[i]
			s.stats.rx.Add(1)
			data := m.buf[:m.n]
			if !isUTP(data) {
				s.raw.deliver(data, m.addr)
				continue
			}
			if parsePacket(data, &pkt) != nil {
				s.stats.rxBad.Add(1)
				continue
			}
			c := s.lookup(m.addr, &pkt)
			if c != cur {
				if cur != nil {
					cur.afterRun(b, now)
					s.flush(b)
					cur.mu.Unlock()
				}
				cur = c
				if c != nil {
					c.mu.Lock()
				}
			}
			if c == nil {
				s.unknown(b, m.addr, &pkt, now)
				continue
			}
			c.onPacket(b, &pkt, now)
		}
		if cur != nil {
			cur.afterRun(b, now)
			s.flush(b)
			cur.mu.Unlock()
		}
		s.flush(b)
	}
}

func (s *Socket) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// lookup finds the connection a packet belongs to.
func (s *Socket) lookup(addr netip.AddrPort, p *packet) *Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch p.typ {
	case stSyn:
		// A repeated SYN: our table is keyed by our receive id, id+1.
		return s.conns[connKey{addr, p.connID + 1}]
	case stReset:
		// A reset carries either id of the connection (libutp checks all three).
		if c := s.conns[connKey{addr, p.connID}]; c != nil {
			return c
		}
		if c := s.conns[connKey{addr, p.connID + 1}]; c != nil && c.sendID == p.connID {
			return c
		}
		if c := s.conns[connKey{addr, p.connID - 1}]; c != nil && c.sendID == p.connID {
			return c
		}
		return nil
	}
	return s.conns[connKey{addr, p.connID}]
}

// unknown handles a packet for no connection: a new SYN, or a reset reply.
func (s *Socket) unknown(b *txBatch, addr netip.AddrPort, p *packet, now time.Time) {
	if p.typ == stSyn {
		s.incomingSyn(b, addr, p, now)
		return
	}
	s.stats.rxNoConn.Add(1)
	if p.typ == stReset {
		return
	}
	s.sendReset(b, addr, p.connID, p.seq, now)
}

// sendReset answers a packet that has no connection.
func (s *Socket) sendReset(b *txBatch, addr netip.AddrPort, id, seq uint16, now time.Time) {
	h := header{typ: stReset, connID: id, ts: s.micros(now), seq: uint16(rand.Uint32()), ack: seq}
	slot := b.slot()
	n := putHeader(slot, &h, nil, 0)
	b.msgs = append(b.msgs, txMsg{hdr: slot[:n], addr: addr})
	if b.full() {
		s.flush(b)
	}
}

func (s *Socket) incomingSyn(b *txBatch, addr netip.AddrPort, p *packet, now time.Time) {
	key := connKey{addr, p.connID + 1}
	s.mu.Lock()
	if s.refuse && !s.closed {
		// No listener: refuse as a closed TCP port does (one small reply
		// per SYN, no amplification).
		s.mu.Unlock()
		s.stats.synDropped.Add(1)
		s.sendReset(b, addr, p.connID, p.seq, now)
		return
	}
	if s.closed || s.halfOpen >= s.cfg.MaxHalfOpen || len(s.conns) >= s.cfg.MaxConns {
		s.mu.Unlock()
		s.stats.synDropped.Add(1)
		return
	}
	c := newConn(s, key, p.connID, csSynRecv)
	s.conns[key] = c
	s.halfOpen++
	s.mu.Unlock()
	c.mu.Lock()
	c.acceptSyn(b, p, now)
	s.flush(b)
	c.mu.Unlock()
}

// established hands a connection whose initiator proved its address to
// Accept; false when the backlog is full.
func (s *Socket) established(c *Conn) bool {
	s.mu.Lock()
	s.halfOpen--
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return false
	}
	select {
	case s.acceptCh <- c:
		return true
	default:
		return false
	}
}

// routePacketSize is the largest UDP payload the route to addr carries
// without fragmentation, 0 when unknown.
func (s *Socket) routePacketSize(addr netip.AddrPort) int {
	mtu := s.io.routeMTU(addr)
	if mtu <= 0 {
		return 0
	}
	if addr.Addr().Is4() {
		return mtu - 28
	}
	return mtu - 48
}
