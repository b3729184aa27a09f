package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/metadata"
	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/pex"
	"github.com/effusion-bt/effusion/transport"
)

// Limits of one peer connection.
const (
	// maxUploadQueue caps the requests a peer may have queued with us
	// (beyond it: REJECT with the fast extension, else the request is dropped).
	maxUploadQueue = 500
	// uploadBatch is how many blocks the writer sends in one writev.
	uploadBatch = 8
	// keepAliveInterval: we send a keep-alive when we sent nothing for this long.
	keepAliveInterval = 2 * time.Minute
	// idleTimeout: a peer that sends nothing (not even keep-alives) for this
	// long is dropped.
	idleTimeout = 4 * time.Minute
	// maxOutBuffer caps the bytes queued for a peer and not yet written.
	maxOutBuffer = 1 << 20
	// maxQueuedEvents caps a peer's events waiting in the session's
	// mailbox (blocks apart: the block budget bounds those). Its reader
	// waits for room, so no peer can make the session hold more than this
	// many of its messages, however fast it sends them.
	maxQueuedEvents = 256
)

// torrentFacts is what peer goroutines need to know about the torrent:
// its identity, the environment and the session's rate limiters, and its
// geometry once the metadata is known (a magnet link's session starts
// without: peers then see no geometry and fetch metadata only).
type torrentFacts struct {
	infoHash [20]byte
	peerID   [20]byte
	env      *Env
	down, up limiter // this session's limits (the environment's apply too)
	log      *slog.Logger
	geo      atomic.Pointer[geometry] // nil until the info dictionary is known
	// The extensions we advertise (the torrent is not private): peers'
	// messages for them are read, others skipped. Atomic: a magnet's
	// session learns that its torrent is private only with the metadata,
	// while peer goroutines read them.
	metadataOn, pexOn atomic.Bool
	// dhtOn: the environment has a DHT and the torrent is not private
	// (BEP 27): our handshake sets the DHT bit, PORT messages go both ways.
	dhtOn atomic.Bool

	held                   atomic.Int64 // blocks of the environment's budget this session holds
	sentByFile, sentByCopy atomic.Int64 // blocks uploaded with sendfile, and copied
}

// geometry is what the info dictionary says of the data, plus the atomic
// have-set and the block source for uploads: set once, read by every peer
// goroutine.
type geometry struct {
	numPieces int
	pieceLen  int64
	total     int64
	files     []fileFacts // the layout, for file priorities
	have      *atomicBits
	left      atomic.Int64 // bytes of wanted pieces not verified (the core's, published)
	store     blockReader
}

// g returns the geometry, nil before the metadata is known.
func (f *torrentFacts) g() *geometry { return f.geo.Load() }

// fileFacts is one file of the layout.
type fileFacts struct {
	length  int64
	padding bool
}

// blockReader is the part of storage the upload path uses.
type blockReader interface {
	ReadBlock(index int, begin int64, buf []byte) error
}

// pieceSize returns the length of piece i.
func (g *geometry) pieceSize(i int) int64 {
	if i == g.numPieces-1 {
		return g.total - int64(i)*g.pieceLen
	}
	return g.pieceLen
}

// ourHandshake is what we send: BEP 6 and BEP 10 bits set.
func (f *torrentFacts) ourHandshake() peerwire.Handshake {
	h := peerwire.Handshake{InfoHash: f.infoHash, PeerID: f.peerID}
	h.SetFast()
	h.SetExtended()
	if f.dhtOn.Load() {
		h.SetDHT()
	}
	return h
}

// sink receives what a peer's reader decodes: the session's mailbox.
// Tests substitute a fake.
type sink interface {
	post(e event) bool
}

// upReq is a queued request from the peer.
type upReq struct{ index, begin, length uint32 }

// Peer is one connected peer: its socket, a reader goroutine decoding
// frames into session events, and a writer goroutine sending what the
// session queued and serving the peer's requests. The session refers to a
// peer by this handle; users see peers only through Stats.
type Peer struct {
	addr     netip.AddrPort
	conn     net.Conn
	mc       *mse.Conn // the connection, when it is an encrypted (RC4) MSE stream
	f        *torrentFacts
	sink     sink
	remote   peerwire.Handshake
	fast     bool // BEP 6 negotiated
	ext      bool // BEP 10 negotiated
	outgoing bool
	owner    interface{ Cast(any) error } // the connection process owning p, told when it ends

	transport string // "tcp" or "utp" (transport.Name)
	portSeen  bool   // a PORT message was taken (session-owned)

	ctx    context.Context // cancelled on close (unblocks waits)
	cancel context.CancelFunc

	credits chan struct{} // the peer's events in the session's mailbox (maxQueuedEvents)

	mu       sync.Mutex
	out      []byte   // encoded messages waiting for the writer
	spare    []byte   // the writer's previous buffer, reused
	ups      []upReq  // peer's requests to serve, FIFO
	choking  bool     // we choke the peer
	allowed  []uint32 // pieces we let the peer fetch while choked (granted by the core)
	closed   bool
	overflow bool // the out queue overflowed: closing
	closeErr error
	wake     chan struct{}

	downloaded atomic.Int64 // payload bytes received
	uploaded   atomic.Int64 // payload bytes sent
	lastRecv   atomic.Int64 // unix nanoseconds of the last frame received
	lastSend   atomic.Int64 // unix nanoseconds of the last write

	lastUpReported int64 // session-owned: uploaded bytes already told to the core

	extBuf []byte // reader-owned: ut_metadata payloads

	// session-owned: the extension protocol and the Metadata phase
	pre        *preCore        // what it said before the core existed (nil once attached)
	metaID     int             // its id for ut_metadata (0: none)
	pexID      int             // its id for ut_pex (0: none)
	mid        metadata.PeerID // its handle in the metadata fetcher (0: none)
	metaBudget metadata.Budget // what it took of our metadata
	pexConn    *pex.Conn       // PEX with it (nil: none)
	pexAddr    netip.AddrPort  // where others may reach it, as told to PEX

	// writer-owned scratch, kept to avoid allocations per write
	batch   []upReq
	bufs    net.Buffers
	vec     [][]byte
	hdrs    []byte
	rbufs   [uploadBatch]*[peerwire.BlockSize]byte
	zc      *zeroCopy // the sendfile path (nil: read and write each block)
	zcLater bool      // set the sendfile path up once the geometry is known

	done chan struct{} // closed when reader and writer have exited
	wg   sync.WaitGroup
}

// newPeer wraps a connection whose handshake is complete. Nothing runs
// until start.
func newPeer(conn net.Conn, addr netip.AddrPort, remote peerwire.Handshake, ours peerwire.Handshake, f *torrentFacts, s sink, outgoing bool) *Peer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{
		addr:     addr,
		conn:     conn,
		f:        f,
		sink:     s,
		remote:   remote,
		fast:     remote.SupportsFast() && ours.SupportsFast(),
		ext:      remote.SupportsExtended() && ours.SupportsExtended(),
		outgoing: outgoing,
		ctx:      ctx,
		cancel:   cancel,
		credits:  make(chan struct{}, maxQueuedEvents),
		choking:  true,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		out:      make([]byte, 0, 1024),
		spare:    make([]byte, 0, 1024),
	}
	p.transport = transport.Name(conn)
	if mc, ok := conn.(*mse.Conn); ok {
		if mc.Encrypted() {
			p.mc = mc
		} else {
			// An MSE handshake with a plain stream: reads go through mc
			// (start's reader), which may hold bytes it read ahead; writes
			// go straight to the socket, sendfile and writev included.
			p.conn = mc.NetConn()
		}
	}
	now := time.Now().UnixNano()
	p.lastRecv.Store(now)
	p.lastSend.Store(now)
	return p
}

// Err returns why the connection closed (nil while it is open, ErrClosed
// when we closed it without a specific reason).
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closeErr
}

// Done is closed once the peer's goroutines have exited.
func (p *Peer) Done() <-chan struct{} { return p.done }

// start launches the reader and writer. The reader reports every message to
// the sink and finally evPeerGone, after the writer has exited.
func (p *Peer) start(br io.Reader) {
	n := 0 // unknown before the metadata
	if g := p.f.g(); g != nil {
		n = g.numPieces
	} else {
		p.zcLater = true // no storage to send from yet
	}
	r := peerwire.NewReader(br, peerwire.ReaderOptions{NumPieces: n, HeaderOnlyExtended: true})
	p.setupZeroCopy()
	p.wg.Add(1)
	go p.writeLoop()
	go func() {
		err := p.readLoop(r)
		p.close(err)
		p.wg.Wait()
		close(p.done)
		if p.owner != nil {
			p.owner.Cast(peerLost{p.Err()})
		}
		p.sink.post(evPeerGone{p})
	}()
}

// close shuts the connection down with reason err (nil: ErrClosed). Safe
// to call more than once and from any goroutine; the first reason wins.
func (p *Peer) close(err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if err == nil || errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	}
	p.closed = true
	p.closeErr = err
	p.ups = nil
	p.mu.Unlock()
	p.cancel()
	p.conn.Close()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// handled returns a credit once the session has handled one of the peer's
// events (session goroutine).
func (p *Peer) handled() { <-p.credits }

func (p *Peer) violation(reason string, err error) error {
	return &ViolationError{Peer: p.addr, Reason: reason, Err: err}
}

// queue appends an encoded message for the writer.
func (p *Peer) queue(f func([]byte) []byte) {
	p.mu.Lock()
	if !p.closed {
		p.out = f(p.out)
		p.signal()
	}
	p.mu.Unlock()
}

// send queues one message (see peerwire.AppendMessage).
func (p *Peer) send(m peerwire.Message) {
	p.mu.Lock()
	if !p.closed {
		p.out = peerwire.AppendMessage(p.out, m)
		p.signal()
	}
	p.mu.Unlock()
}

// signal wakes the writer after something was queued; p.mu is held. A
// peer that does not read what we send (its queue grows past
// maxOutBuffer: rejects for a request flood, haves) is dropped rather than
// buffered without bound.
func (p *Peer) signal() {
	if len(p.out) > maxOutBuffer && !p.overflow {
		p.overflow = true
		go p.close(ErrSlowPeer) // close takes p.mu, which the caller holds
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// idle reports whether the peer sent nothing for idleTimeout.
func (p *Peer) idle(now time.Time) bool {
	return now.UnixNano()-p.lastRecv.Load() > int64(idleTimeout)
}

// sendKeepAlive queues a keep-alive if nothing was sent for a while.
func (p *Peer) sendKeepAlive(now time.Time) {
	if now.UnixNano()-p.lastSend.Load() < int64(keepAliveInterval*3/4) {
		return
	}
	p.queue(peerwire.AppendKeepAlive)
}
