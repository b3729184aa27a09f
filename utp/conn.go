package utp

import (
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"
)

type connState uint8

const (
	csSynSent   connState = iota // we dialled; waiting for the STATE answering our SYN
	csSynRecv                    // we answered a SYN; waiting for the initiator's next packet
	csConnected                  // established (also while closing: see userClosed, finQueued)
	csClosed                     // gone from the table; err says why
)

// outPacket is one sequence number of the send side: unsent (tx == 0),
// in flight, or marked lost and waiting for retransmission.
type outPacket struct {
	buf    *[]byte // payload; nil for SYN and FIN
	n      int
	typ    uint8
	tx     int // transmissions so far
	sentAt time.Time
	lost   bool // not counted in flight; resent before new data
	acked  bool // selectively acked (the cumulative ack has not reached it yet)
}

// oooSlot holds a packet received ahead of a gap.
type oooSlot struct {
	buf *[]byte
	n   int
	seq uint16
	fin bool
	ok  bool
}

// oooCap bounds how far past a gap packets are kept (and so the reorder
// memory: at most RecvBuffer bytes in any case).
const oooCap = 1024

// maxOut bounds the sequence numbers a connection has outstanding (half
// the 16-bit space, so wrapping comparisons stay exact).
const maxOut = 16384

// Conn is one uTP connection: a net.Conn whose Read, Write, Close and
// deadline methods follow the net.Conn contract (net.ErrClosed after
// Close, os.ErrDeadlineExceeded after a deadline, io.EOF after the peer's
// FIN and all data before it). A Conn is safe for concurrent use: one
// goroutine may read while another writes.
type Conn struct {
	s       *Socket
	key     connKey // peer address and our receive id
	sendID  uint16  // the id our packets carry
	raddr   *net.UDPAddr
	created time.Time

	mu       sync.Mutex
	state    connState
	err      error         // why the connection ended; nil while alive or after a clean close
	dialDone chan struct{} // closed when a dial completes or fails

	// send side
	out       []outPacket // ring indexed by seq & (len-1)
	seqBase   uint16      // oldest packet not yet cumulatively acked
	sentNext  uint16      // next packet never transmitted
	seqNext   uint16      // next sequence number to assign
	outBytes  int         // payload bytes held in out
	outMem    int         // buffer bytes held in out (bounds small-write waste)
	inflight  int         // payload sent, neither acked nor marked lost (cur_window)
	lostCount int         // packets marked lost, waiting for retransmission
	peerWnd   int         // the peer's advertised receive window
	pktSize   int         // UDP payload of a full packet
	mss       int         // data bytes of a full packet
	peerLarge uint32      // the datagram size the peer reads whole (largeBit), 0 if unsaid
	cc        ledbat
	rtt       rttEstimator
	limited   bool // the congestion window held data back since the last ack
	lossSeq   uint16
	lossSeen  bool // lossSeq is set: losses before it belong to the last loss event
	dupAcks   int
	lastAck   uint16
	rtoAt     time.Time
	retries   int
	zwAt      time.Time // zero-window probe deadline
	probe     bool      // send one packet regardless of the windows
	finQueued bool
	finAcked  bool
	lastSend  time.Time
	lingerAt  time.Time

	// receive side
	ackNr      uint16
	rbuf       ring
	ooo        []oooSlot
	oooBytes   int
	oooCount   int
	gotFin     bool
	eofSeq     uint16
	eof        bool // every byte before the peer's FIN has arrived
	replyMicro uint32
	needAck    bool
	advertised int
	lastRecv   time.Time
	sackBuf    [maxSackBytes]byte

	// user side
	rdReady, wrReady chan struct{}
	rd, wd           deadline
	userClosed       bool

	timerAt  time.Time
	timerGen uint64

	stats ConnStats
}

// ConnStats are a connection's counters and estimates.
type ConnStats struct {
	RTT, RTO       time.Duration
	Cwnd           int // congestion window, bytes
	PeerWindow     int // the peer's advertised receive window
	PacketSize     int // UDP payload of a full packet
	QueuingDelay   time.Duration
	PacketsSent    uint64 // first transmissions
	Retransmits    uint64
	Timeouts       uint64
	PacketsRecv    uint64
	BytesSent      uint64 // payload, first transmissions
	BytesRecv      uint64 // payload delivered in order
	IgnoredForged  uint64 // packets acking sequence numbers never sent
	DroppedNoSpace uint64 // data beyond the receive window
}

func newConn(s *Socket, key connKey, sendID uint16, st connState) *Conn {
	now := time.Now()
	c := &Conn{
		s:        s,
		key:      key,
		sendID:   sendID,
		raddr:    net.UDPAddrFromAddrPort(key.addr),
		created:  now,
		state:    st,
		dialDone: make(chan struct{}),
		out:      make([]outPacket, 64),
		rtt:      newRTT(),
		rdReady:  make(chan struct{}, 1),
		wrReady:  make(chan struct{}, 1),
		rd:       newDeadline(),
		wd:       newDeadline(),
		lastSend: now,
		lastRecv: now,
		peerWnd:  s.cfg.RecvBuffer,
	}
	c.setPacketSize(0)
	c.cc = newLedbat(c.mss, s.cfg.SendBuffer)
	return c
}

// setPacketSize picks the packet size for what the peer said it reads.
func (c *Conn) setPacketSize(peerLarge uint32) {
	s := c.s
	c.peerLarge = peerLarge
	route := 0
	if peerLarge > 0 || c.pktSize == 0 {
		route = s.routePacketSize(c.key.addr)
	}
	size := defaultPacketSize
	if route > 0 && route < size {
		size = max(route, safePacketSize)
	}
	if peerLarge > 0 && route > size {
		size = min(int(peerLarge), route)
	}
	size = min(size, s.cfg.MaxPacketSize)
	c.pktSize = size
	c.mss = size - headerLen
	c.cc.setMSS(c.mss)
}

// advertiseLarge is the datagram size we say we read (0: say nothing).
func (s *Socket) advertiseLarge() uint32 {
	if s.cfg.MaxPacketSize > defaultPacketSize {
		return maxDatagram
	}
	return 0
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Read reads data in order. It returns io.EOF once the peer's FIN and
// everything before it have been read, ErrReset or ErrTimeout when the
// connection failed, net.ErrClosed after Close (or the Socket's Close),
// os.ErrDeadlineExceeded after the read deadline.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.userClosed {
			return 0, net.ErrClosed
		}
		if c.rbuf.len() > 0 {
			n := c.rbuf.read(p, false)
			c.windowUpdate()
			return n, nil
		}
		if c.eof {
			return 0, io.EOF
		}
		if c.state == csClosed {
			return 0, c.closedErr()
		}
		if len(p) == 0 {
			return 0, nil
		}
		if c.rd.expired() {
			return 0, os.ErrDeadlineExceeded
		}
		dl := c.rd.wait()
		c.mu.Unlock()
		select {
		case <-c.rdReady:
		case <-dl:
		}
		c.mu.Lock()
	}
}

func (c *Conn) closedErr() error {
	if c.err != nil {
		return c.err
	}
	return net.ErrClosed
}

// windowUpdate tells the peer that Read opened the window, when the window
// it knows is small: otherwise it would wait for its zero-window probe.
func (c *Conn) windowUpdate() {
	if c.state != csConnected {
		return
	}
	rmax := c.s.cfg.RecvBuffer
	w := c.recvWindow()
	if c.advertised < rmax/2 && w-c.advertised >= min(rmax/2, 2*c.mss) {
		b := batchPool.Get().(*txBatch)
		c.sendState(b, time.Now())
		c.s.flush(b)
		batchPool.Put(b)
	}
}

// Write queues p for sending and returns once all of it is queued (or
// sent): it blocks while the send buffer is full. Errors: net.ErrClosed
// after Close, ErrReset or ErrTimeout when the connection failed,
// os.ErrDeadlineExceeded after the write deadline (with the count queued).
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	b := batchPool.Get().(*txBatch)
	defer batchPool.Put(b)
	for {
		var err error
		switch {
		case c.userClosed || c.finQueued:
			err = net.ErrClosed
		case c.state == csClosed:
			err = c.closedErr()
		case len(p) == 0:
		case c.wd.expired():
			err = os.ErrDeadlineExceeded
		}
		if err != nil || len(p) == 0 {
			now := time.Now()
			c.flush(b, now)
			c.s.flush(b)
			c.reschedule(now)
			return total, err
		}
		if n := c.packetize(p); n > 0 {
			p = p[n:]
			total += n
			continue
		}
		now := time.Now()
		c.flush(b, now)
		c.s.flush(b)
		c.reschedule(now)
		dl := c.wd.wait()
		c.mu.Unlock()
		select {
		case <-c.wrReady:
		case <-dl:
		}
		c.mu.Lock()
	}
}

// Close closes the connection: Read and Write return net.ErrClosed at
// once, data not yet read is discarded, and data already written is still
// delivered, followed by a FIN, for up to Config.Linger in the background.
// A second Close returns net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userClosed {
		return net.ErrClosed
	}
	c.userClosed = true
	c.rd.stop()
	c.wd.stop()
	signal(c.rdReady)
	signal(c.wrReady)
	if c.state != csConnected {
		return nil
	}
	c.rbuf = ring{}
	c.releaseOOO()
	now := time.Now()
	if !c.finQueued {
		c.queueCtl(stFin)
		c.finQueued = true
	}
	c.lingerAt = now.Add(c.s.cfg.Linger)
	b := batchPool.Get().(*txBatch)
	c.flush(b, now)
	c.maybeDone(b)
	c.s.flush(b)
	batchPool.Put(b)
	c.reschedule(now)
	return nil
}

// LocalAddr returns the Socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.s.pc.LocalAddr() }

// RemoteAddr returns the peer's address (a *net.UDPAddr).
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline sets the time after which Read fails with os.ErrDeadlineExceeded.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rd.set(t)
	return nil
}

// SetWriteDeadline sets the time after which Write fails with os.ErrDeadlineExceeded.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wd.set(t)
	return nil
}

// Stats returns the connection's counters and estimates.
func (c *Conn) Stats() ConnStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.RTT, st.RTO = c.rtt.rtt, c.rtt.rto
	st.Cwnd = int(c.cc.cwnd)
	st.PeerWindow = c.peerWnd
	st.PacketSize = c.pktSize
	st.QueuingDelay = c.cc.ourDelay
	return st
}

// queueSyn makes the SYN the connection's first packet.
func (c *Conn) queueSyn() {
	c.seqNext = uint16(rand.Uint32())
	c.seqBase, c.sentNext = c.seqNext, c.seqNext
	c.queueCtl(stSyn)
}
