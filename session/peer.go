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

	"github.com/effusion-bt/effusion/peerwire"
	"golang.org/x/time/rate"
)

// Limits of one peer connection.
const (
	// maxUploadQueue caps the requests a peer may have queued with us
	// (beyond it: REJECT with the fast extension, else the request is dropped).
	maxUploadQueue = 500
	// uploadBatch is how many blocks the writer sends in one writev.
	uploadBatch = 8
	// handshakeTimeout bounds dial plus handshake.
	handshakeTimeout = 10 * time.Second
	// keepAliveInterval: we send a keep-alive when we sent nothing for this long.
	keepAliveInterval = 2 * time.Minute
	// idleTimeout: a peer that sends nothing (not even keep-alives) for this
	// long is dropped.
	idleTimeout = 4 * time.Minute
	// maxOutBuffer caps the bytes queued for a peer and not yet written.
	maxOutBuffer = 1 << 20
)

// torrentFacts is what peer goroutines need to know about the torrent:
// immutable geometry plus the atomic have-set, the block source for
// uploads and the shared rate limiters.
type torrentFacts struct {
	infoHash  [20]byte
	peerID    [20]byte
	numPieces int
	pieceLen  int64
	total     int64
	have      *atomicBits
	store     blockReader
	downLimit *rate.Limiter // nil: unlimited
	upLimit   *rate.Limiter // nil: unlimited
	log       *slog.Logger
}

// blockReader is the part of storage the upload path uses.
type blockReader interface {
	ReadBlock(index int, begin int64, buf []byte) error
}

// pieceSize returns the length of piece i.
func (f *torrentFacts) pieceSize(i int) int64 {
	if i == f.numPieces-1 {
		return f.total - int64(i)*f.pieceLen
	}
	return f.pieceLen
}

// sink receives what a peer's reader decodes: the session's process
// interface (casts on its mailbox). Tests substitute a fake.
type sink interface {
	HandleMessage(p *Peer, m peerwire.Message)
	handleBlock(b *block)
	UnregisterConnection(p *Peer)
}

// upReq is a queued request from the peer.
type upReq struct{ index, begin, length uint32 }

// Peer is one connected peer: its socket, a reader goroutine decoding
// frames into session events, and a writer goroutine sending what the
// session queued and serving the peer's requests. Its methods are safe for
// concurrent use. The session refers to a peer by this handle.
type Peer struct {
	id       uint64
	addr     netip.AddrPort
	conn     net.Conn
	f        *torrentFacts
	sink     sink
	remote   peerwire.Handshake
	fast     bool // BEP 6 negotiated
	ext      bool // BEP 10 negotiated
	outgoing bool
	owner    interface{ Cast(any) error } // the connection process owning p, told when it ends

	ctx    context.Context // cancelled on close (unblocks rate-limit waits)
	cancel context.CancelFunc

	mu       sync.Mutex
	out      []byte   // encoded messages waiting for the writer
	spare    []byte   // the writer's previous buffer, reused
	ups      []upReq  // peer's requests to serve, FIFO
	choking  bool     // we choke the peer
	allowed  []uint32 // pieces we let the peer fetch while choked
	closed   bool
	overflow bool // the out queue overflowed: closing
	closeErr error
	wake     chan struct{}

	downloaded atomic.Int64 // payload bytes received
	uploaded   atomic.Int64 // payload bytes sent
	lastRecv   atomic.Int64 // unix nanoseconds of the last frame received
	lastSend   atomic.Int64 // unix nanoseconds of the last write

	lastUpReported int64 // session-owned: uploaded bytes already told to the core

	// writer-owned scratch, kept to avoid allocations per write
	batch []upReq
	bufs  net.Buffers
	vec   [][]byte
	hdrs  []byte
	rbufs [uploadBatch]*[peerwire.BlockSize]byte
	zc    *zeroCopy // the sendfile path (nil: read and write each block)

	done chan struct{} // closed when reader and writer have exited
	wg   sync.WaitGroup
}

var peerSeq atomic.Uint64

// sentByFile and sentByCopy count the blocks the sendfile upload path
// has sent from the file and by reading them, in this process (tests
// check that both are taken).
var sentByFile, sentByCopy atomic.Int64

// newPeer wraps a connection whose handshake is complete. Nothing runs
// until start.
func newPeer(conn net.Conn, addr netip.AddrPort, remote peerwire.Handshake, ours peerwire.Handshake, f *torrentFacts, s sink, outgoing bool) *Peer {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{
		id:       peerSeq.Add(1),
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
		choking:  true,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		out:      make([]byte, 0, 1024),
		spare:    make([]byte, 0, 1024),
	}
	now := time.Now().UnixNano()
	p.lastRecv.Store(now)
	p.lastSend.Store(now)
	return p
}

// Addr returns the peer's address.
func (p *Peer) Addr() netip.AddrPort { return p.addr }

// PeerID returns the peer id from the peer's handshake.
func (p *Peer) PeerID() [20]byte { return p.remote.PeerID }

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
// the sink and finally calls sink.UnregisterConnection, after the writer
// has exited.
func (p *Peer) start(br io.Reader) {
	r := peerwire.NewReader(br, peerwire.ReaderOptions{NumPieces: p.f.numPieces})
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
		p.sink.UnregisterConnection(p)
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

func (p *Peer) violation(reason string, err error) error {
	return &ViolationError{Peer: p.addr, Reason: reason, Err: err}
}

// readLoop decodes frames until the connection fails. Requests and cancels
// are handled here, off the session loop; pieces become block events;
// everything else goes to the session as a message.
func (p *Peer) readLoop(r *peerwire.Reader) error {
	// Availability (bitfield, have all, have none) comes first, before
	// any have or block. Real clients bend this: aria2 sends interested
	// before it, and repeats its bitfield (or follows have none with one).
	// A repeat may only add pieces, never take any back, so it is passed
	// on as haves; one that drops a piece is a violation.
	var avail []byte // the availability the session knows, nil before any
	sawOther := false
	var first peerwire.MessageID // what ruled a first bitfield out
	for {
		m, err := r.ReadMessage()
		if err != nil {
			var pe *peerwire.ProtocolError
			if errors.As(err, &pe) {
				return p.violation("bad frame", err)
			}
			return err
		}
		p.lastRecv.Store(time.Now().UnixNano())
		switch m.ID {
		case peerwire.MsgKeepAlive, peerwire.MsgPort:
			continue
		case peerwire.MsgPiece:
			sawOther, first = true, m.ID
			if m.Length > peerwire.BlockSize {
				return p.violation("piece block larger than we ever request", nil)
			}
			if err := peerwire.CheckBlock(m, p.f.pieceSize(int(m.Index))); err != nil {
				return p.violation("piece outside its bounds", err)
			}
			if p.f.downLimit != nil {
				if err := p.f.downLimit.WaitN(p.ctx, int(m.Length)); err != nil {
					return err
				}
			}
			b := getBlock()
			b.n = m.Length
			if err := r.ReadPayload(b.data[:m.Length]); err != nil {
				putBlock(b)
				return err
			}
			b.p, b.index, b.begin = p, m.Index, m.Begin
			p.downloaded.Add(int64(m.Length))
			p.sink.handleBlock(b)
			continue
		case peerwire.MsgRequest:
			if err := peerwire.CheckBlock(m, p.f.pieceSize(int(m.Index))); err != nil {
				return p.violation("request outside its piece", err)
			}
			p.enqueueUpload(m)
			continue
		case peerwire.MsgCancel:
			p.cancelUpload(m)
			continue
		case peerwire.MsgBitfield, peerwire.MsgHaveAll, peerwire.MsgHaveNone:
			if m.ID != peerwire.MsgBitfield && !p.fast {
				return p.violation(m.ID.String()+" without the fast extension", nil)
			}
			bits := m.Bitfield
			if m.ID != peerwire.MsgBitfield {
				bits = p.wireBits(m.ID == peerwire.MsgHaveAll)
			}
			if avail == nil {
				if sawOther {
					return p.violation(m.ID.String()+" after "+first.String(), nil)
				}
				avail = append([]byte(nil), bits...)
				break
			}
			if err := p.moreAvailability(avail, bits); err != nil {
				return err
			}
			continue
		case peerwire.MsgReject:
			if !p.fast {
				return p.violation("reject without the fast extension", nil)
			}
			if err := peerwire.CheckBlock(m, p.f.pieceSize(int(m.Index))); err != nil {
				return p.violation("reject outside its piece", err)
			}
		case peerwire.MsgSuggest, peerwire.MsgAllowedFast:
			if !p.fast {
				return p.violation(m.ID.String()+" without the fast extension", nil)
			}
		case peerwire.MsgExtended:
			if !p.ext {
				continue // not negotiated: ignore rather than guess
			}
		case peerwire.MsgHave:
			sawOther, first = true, m.ID
			if avail != nil {
				avail[m.Index>>3] |= 0x80 >> (m.Index & 7)
			}
		default:
			if !m.ID.Known() {
				continue // a later extension: skipped by the codec
			}
		}
		p.sink.HandleMessage(p, m)
	}
}

// wireBits returns a bitfield with every piece set, or none.
func (p *Peer) wireBits(all bool) []byte {
	b := make([]byte, (p.f.numPieces+7)/8)
	if all {
		bf, _ := peerwire.ParseBitfield(b, p.f.numPieces)
		bf.SetAll()
	}
	return b
}

// moreAvailability handles a repeated availability message: the pieces it
// adds to avail are reported as haves; one it drops is a violation.
func (p *Peer) moreAvailability(avail, bits []byte) error {
	for i := range avail {
		if avail[i]&^bits[i] != 0 {
			return p.violation("repeated bitfield drops pieces", nil)
		}
	}
	for i, b := range bits {
		added := b &^ avail[i]
		for j := 0; added != 0; j++ {
			if added&0x80 != 0 {
				p.sink.HandleMessage(p, peerwire.Message{ID: peerwire.MsgHave, Index: uint32(i*8 + j)})
			}
			added <<= 1
		}
		avail[i] = b
	}
	return nil
}

// enqueueUpload queues a peer's request if we may serve it.
func (p *Peer) enqueueUpload(m peerwire.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	ok := p.f.have.Has(int(m.Index)) && len(p.ups) < maxUploadQueue
	if ok && p.choking {
		ok = false
		for _, a := range p.allowed {
			if a == m.Index {
				ok = true
				break
			}
		}
	}
	if !ok {
		if p.fast {
			p.out = peerwire.AppendReject(p.out, m.Index, m.Begin, m.Length)
			p.signal()
		}
		return
	}
	p.ups = append(p.ups, upReq{m.Index, m.Begin, m.Length})
	p.signal()
}

// cancelUpload drops a queued request the peer no longer wants.
func (p *Peer) cancelUpload(m peerwire.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range p.ups {
		if u.index == m.Index && u.begin == m.Begin && u.length == m.Length {
			p.ups = append(p.ups[:i], p.ups[i+1:]...)
			return
		}
	}
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

// writeLoop sends queued messages and serves queued requests, batching
// small messages into one write and blocks into one writev.
func (p *Peer) writeLoop() {
	defer p.wg.Done()
	defer func() {
		for i, b := range p.rbufs {
			if b != nil {
				putBlock(&block{data: b}) // no slot: upload buffers never took one
				p.rbufs[i] = nil
			}
		}
	}()
	for range p.wake {
		for {
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				return
			}
			out := p.out
			p.out = p.spare[:0]
			n := min(len(p.ups), uploadBatch)
			p.batch = append(p.batch[:0], p.ups[:n]...)
			p.ups = p.ups[:copy(p.ups, p.ups[n:])]
			p.mu.Unlock()
			if len(out) == 0 && n == 0 {
				p.spare = out
				break
			}
			var err error
			if p.zc != nil {
				err = p.writeBatchZeroCopy(out, p.batch)
			} else {
				err = p.writeBatch(out, p.batch)
			}
			p.mu.Lock()
			p.spare = out[:0]
			p.mu.Unlock()
			if err != nil {
				p.close(err)
				return
			}
		}
	}
}

// writeBatch sends out followed by the blocks of reqs in one vectored write.
func (p *Peer) writeBatch(out []byte, reqs []upReq) error {
	if cap(p.hdrs) < uploadBatch*17 {
		// Sized once so that slices of it stay valid while we append.
		p.hdrs = make([]byte, 0, uploadBatch*17)
	}
	p.vec = append(p.vec[:0], out)
	p.hdrs = p.hdrs[:0]
	var payload int
	for i, u := range reqs {
		h := len(p.hdrs)
		if !p.f.have.Has(int(u.index)) {
			continue // never serve what we do not have (cannot happen: checked on enqueue)
		}
		if p.rbufs[i] == nil {
			p.rbufs[i] = newBlock().data
		}
		buf := p.rbufs[i][:u.length]
		if err := p.f.store.ReadBlock(int(u.index), int64(u.begin), buf); err != nil {
			if p.hdrs = p.unreadable(p.hdrs, u, err); len(p.hdrs) > h {
				p.vec = append(p.vec, p.hdrs[h:])
			}
			continue
		}
		if err := p.waitUpload(int(u.length)); err != nil {
			return err
		}
		p.hdrs = peerwire.AppendPieceHeader(p.hdrs, u.index, u.begin, int(u.length))
		p.vec = append(p.vec, p.hdrs[h:], buf)
		payload += int(u.length)
	}
	// Counted before the write so that a peer who got the block never sees
	// a stale count; after a failed write the connection is gone anyway.
	p.uploaded.Add(int64(payload))
	p.bufs = p.vec
	_, err := p.bufs.WriteTo(p.conn)
	p.bufs = nil
	clear(p.vec)
	if err != nil {
		return err
	}
	p.lastSend.Store(time.Now().UnixNano())
	return nil
}

// unreadable logs a requested block we could not read and appends its
// REJECT to dst when the fast extension lets us say so.
func (p *Peer) unreadable(dst []byte, u upReq, err error) []byte {
	p.f.log.Warn("reading a block to upload", "piece", u.index, "err", err)
	if p.fast {
		dst = peerwire.AppendReject(dst, u.index, u.begin, u.length)
	}
	return dst
}

// waitUpload waits for the upload rate limit to allow n more bytes.
func (p *Peer) waitUpload(n int) error {
	if p.f.upLimit == nil {
		return nil
	}
	return p.f.upLimit.WaitN(p.ctx, n)
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

// sendRequest queues a request for a block.
func (p *Peer) sendRequest(index, begin, length uint32) {
	p.mu.Lock()
	if !p.closed {
		p.out = peerwire.AppendRequest(p.out, index, begin, length)
		p.signal()
	}
	p.mu.Unlock()
}

// sendCancel queues a cancel for a block.
func (p *Peer) sendCancel(index, begin, length uint32) {
	p.mu.Lock()
	if !p.closed {
		p.out = peerwire.AppendCancel(p.out, index, begin, length)
		p.signal()
	}
	p.mu.Unlock()
}

// sendHave queues a have.
func (p *Peer) sendHave(index uint32) {
	p.mu.Lock()
	if !p.closed {
		p.out = peerwire.AppendHave(p.out, index)
		p.signal()
	}
	p.mu.Unlock()
}

// sendSimple queues a payload-less message (interested, not interested, ...).
func (p *Peer) sendSimple(id peerwire.MessageID) {
	p.mu.Lock()
	if !p.closed {
		p.out = peerwire.AppendSimple(p.out, id)
		p.signal()
	}
	p.mu.Unlock()
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

// setChoking chokes or unchokes the peer. Choking drops the queued
// requests (rejecting each with the fast extension, as BEP 6 asks).
func (p *Peer) setChoking(choke bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.choking == choke {
		return
	}
	p.choking = choke
	if choke {
		p.out = peerwire.AppendSimple(p.out, peerwire.MsgChoke)
		if p.fast {
			for _, u := range p.ups {
				p.out = peerwire.AppendReject(p.out, u.index, u.begin, u.length)
			}
		}
		p.ups = p.ups[:0]
	} else {
		p.out = peerwire.AppendSimple(p.out, peerwire.MsgUnchoke)
	}
	p.signal()
}

// isChoking reports whether we choke the peer.
func (p *Peer) isChoking() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.choking
}

// queuedUploads returns the number of requests waiting to be served.
func (p *Peer) queuedUploads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ups)
}
