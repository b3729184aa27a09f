package core

import (
	"errors"
	"time"
)

// Streaming. A reader (a player reading a file while it downloads) tells
// the core where it reads and how fast, as a window: SetReader(id, Window).
// The core turns every reader's window into deadlines on the core's clock
// (the Tick values), so it stays deterministic in virtual time, and merges
// the readers: a piece in two windows takes the earlier deadline.
//
// Why windows rather than per-piece deadlines set by the shell: the core
// must know which reader a deadline belongs to in order to merge readers
// without the shell keeping reference counts, to move a window atomically
// on a seek (and cancel what would hold up the new window), and
// to compute deadlines on its own clock. A window is one call per read or
// seek; per-piece deadlines would be a window's worth of calls each time
// the reader crosses a piece.
//
// Pieces with a deadline are picked before everything else, in deadline
// order (not rarest first), whatever their priority; a piece inside a
// window is wanted even if SetWanted deselected it (reading raises the
// priority of what is read), and goes back to its selection when no window
// holds it. See pickDeadline for the rules that steer urgent blocks to
// fast peers and re-request them when their peer is late.

// ReaderID names one reader's window. The shell chooses the values (a
// counter, say); they only need to be distinct among a torrent's readers.
type ReaderID uint32

// Window is where a reader reads, in torrent byte offsets (the shell maps a
// file's offsets to the torrent's).
type Window struct {
	// Pos is the offset of the next byte the reader will read. The piece
	// that holds it is the most urgent: its deadline is now.
	Pos int64
	// End is the offset just past the last byte the reader may read (the
	// end of its file): the window never extends past it. Zero, or more
	// than the torrent's length, means the torrent's end.
	End int64
	// Readahead is how many bytes from Pos the reader wants ahead of
	// time. Zero selects Rate times DefaultReadahead.
	Readahead int64
	// Rate is how fast the reader consumes bytes, in bytes per second: the
	// piece d bytes past Pos is due d/Rate seconds from now. Zero selects
	// DefaultReadRate.
	Rate int64
}

// Limits and defaults of readers.
const (
	// MaxReaders is the most readers a Torrent tracks at once.
	MaxReaders = 64
	// MaxWindow caps a reader's window in pieces (the rest of its
	// readahead is ignored), so deadlines stay a small set.
	MaxWindow = 1024
	// DefaultReadRate is the Rate of a Window that gives none (1 MiB/s).
	DefaultReadRate = 1 << 20
	// DefaultReadahead is how far ahead a Window that gives no Readahead
	// reads, as time at its Rate.
	DefaultReadahead = 5 * time.Second
)

// ErrTooManyReaders is returned by SetReader for a new reader when
// MaxReaders are already registered.
var ErrTooManyReaders = errors.New("core: too many readers")

// Tuning of deadline picking, chosen in the streaming simulation
// (TestStreamSwarm and its variants) over seeks to several offsets.
const (
	// stallPatience: a peer with requests out that sent no block for this
	// long is taken for stalled: it gets no deadline work until it sends
	// again (the snub timeout is far longer).
	stallPatience = time.Second
	// lateGrace: a block of a deadline piece whose expected arrival is
	// this far in the past is re-requested from another peer.
	lateGrace = 200 * time.Millisecond
	// dupMargin: a block expected after its piece's deadline is
	// re-requested from a peer that would bring it this much earlier.
	dupMargin = 100 * time.Millisecond
	// keepStarted: when a reader seeks, each peer keeps this many of its
	// oldest requests (likely on the wire already, nearly done); later
	// ones for pieces not due soon are cancelled (see preempt). Keeping 0
	// or 4 gave the same seek latencies in the simulation, with 0 wasting
	// more.
	keepStarted = 2
	// urgentDuplicates: requesters a block of the urgent piece at the head
	// of the deadline queue (the one a reader waits for) may have; other
	// duplicated blocks have at most EndgameDuplicates (four for every
	// urgent piece wasted more than it fetched when the reader kept up
	// with the download: TestSteadyStateStreamingAllocatesNothing).
	// Against libtorrent seeders, whose rate limit hands out its quota
	// every 500 ms, the first piece after a seek came with the second
	// burst when one of the two holders of a block missed the first.
	urgentDuplicates = maxDupLimit
)

// reader is one reader's window as pieces, and what its deadlines are
// computed from.
type reader struct {
	id          ReaderID
	first, last int           // window pieces; empty when last < first
	pos         int64         // Window.Pos when the deadlines were computed...
	rate        float64       // bytes per second
	at          time.Duration // ...and t.now then
	next        int           // merge cursor
}

// deadline returns when piece i (inside r's window) is due.
func (t *Torrent) deadline(r *reader, i int) time.Duration {
	d := int64(i)*t.cfg.PieceLength - r.pos
	if d <= 0 {
		return r.at
	}
	return r.at + time.Duration(min(float64(d)/r.rate, maxDue)*float64(time.Second))
}

// maxDue bounds how far ahead a deadline is, in seconds (a day), so that
// absurd rates cannot overflow the clock.
const maxDue = 86400

// dlEntry is a piece with a deadline.
type dlEntry struct {
	piece uint32
	at    time.Duration
}

func (t *Torrent) readerIndex(id ReaderID) int {
	for k := range t.readers {
		if t.readers[k].id == id {
			return k
		}
	}
	return -1
}

// SetReader creates or moves reader id's window (see Window). Call it when
// the reader is created, after each read (or at least each time it enters
// another piece), and on every seek; the window moves at once. A seek (a
// new position outside the reader's current window) or a new reader also
// cancels the requests for pieces not due within a queue time (no longer
// needed, or needed later than the new window's), except the few each peer
// has probably started, so the new window's requests do not queue behind
// them.
// Pieces that leave every window fall back to their SetWanted selection;
// those left unwanted and in flight finish, as with SetWanted. Out-of-range
// positions are clamped. It fails with ErrTooManyReaders for a new reader
// beyond MaxReaders.
func (t *Torrent) SetReader(id ReaderID, w Window) error {
	k := t.readerIndex(id)
	jump := k < 0
	if k < 0 {
		if len(t.readers) >= MaxReaders {
			return ErrTooManyReaders
		}
		t.readers = append(t.readers, reader{id: id, first: 0, last: -1})
		k = len(t.readers) - 1
	}
	r := &t.readers[k]
	rate := float64(w.Rate)
	if w.Rate <= 0 {
		rate = DefaultReadRate
	}
	first, last, pos := t.windowOf(w, rate)
	if first < r.first || first > r.last+1 {
		jump = true
	}
	if !jump && first == r.first && last == r.last && rate == r.rate {
		// Within the same pieces at the same rate: a reader keeping to
		// its rate keeps its deadlines, so they need no recomputation
		// (pos and at stay those they were computed from).
		return nil
	}
	oldFirst, oldLast := r.first, r.last
	r.first, r.last, r.pos, r.rate, r.at = first, last, pos, rate, t.now
	t.remark(oldFirst, oldLast)
	t.rebuildDeadlines()
	t.lateScanned = false
	if jump {
		t.preempt()
	}
	t.bump()
	return nil
}

// RemoveReader forgets reader id's window (unknown ids are ignored): its
// pieces fall back to their SetWanted selection and priority.
func (t *Torrent) RemoveReader(id ReaderID) {
	k := t.readerIndex(id)
	if k < 0 {
		return
	}
	oldFirst, oldLast := t.readers[k].first, t.readers[k].last
	last := len(t.readers) - 1
	t.readers[k] = t.readers[last]
	t.readers = t.readers[:last]
	t.remark(oldFirst, oldLast)
	t.rebuildDeadlines()
	t.bump()
}

// windowOf returns the pieces of a window and its clamped position.
func (t *Torrent) windowOf(w Window, rate float64) (first, last int, pos int64) {
	total := t.cfg.TotalLength
	pos = min(max(w.Pos, 0), total)
	end := w.End
	if end <= 0 || end > total {
		end = total
	}
	first = int(pos / t.cfg.PieceLength)
	if pos >= end {
		return first, first - 1, pos
	}
	ra := w.Readahead
	if ra <= 0 {
		ra = total
		if f := rate * DefaultReadahead.Seconds(); f < float64(total) {
			ra = int64(f)
		}
	}
	stop := end
	if ra < end-pos {
		stop = pos + max(ra, 1)
	}
	last = int((stop - 1) / t.cfg.PieceLength)
	return first, min(last, first+MaxWindow-1), pos
}

// remark brings the window marks (dl) and the wanted pieces up to date
// after one reader's window changed from [oldFirst, oldLast].
func (t *Torrent) remark(oldFirst, oldLast int) {
	for i := oldFirst; i <= oldLast; i++ {
		t.dl.clear(uint32(i))
	}
	for k := range t.readers {
		r := &t.readers[k]
		for i := r.first; i <= r.last; i++ {
			t.dl.set(uint32(i))
			if !t.want.has(uint32(i)) {
				t.setWant(uint32(i), true)
			}
		}
	}
	for i := oldFirst; i <= oldLast; i++ {
		if !t.dl.has(uint32(i)) && !t.wantSet.has(uint32(i)) && t.want.has(uint32(i)) {
			t.setWant(uint32(i), false)
		}
	}
}

// rebuildDeadlines recomputes the deadline queue: every window piece not
// verified, by deadline, then piece. Each reader's deadlines grow with the
// piece index, so the queue is a merge of the windows (O(window × readers),
// no sorting, no allocation once the queue has grown); a piece in several
// windows is taken at its first, earliest, deadline.
func (t *Torrent) rebuildDeadlines() {
	t.dq = t.dq[:0]
	t.dqStart = 0
	multi := len(t.readers) > 1
	for k := range t.readers {
		t.readers[k].next = t.readers[k].first
	}
	for {
		best := -1
		var bestAt time.Duration
		var bestPiece int
		for k := range t.readers {
			r := &t.readers[k]
			if r.next > r.last {
				continue
			}
			at := t.deadline(r, r.next)
			if best < 0 || at < bestAt || at == bestAt && r.next < bestPiece {
				best, bestAt, bestPiece = k, at, r.next
			}
		}
		if best < 0 {
			break
		}
		t.readers[best].next++
		i := uint32(bestPiece)
		if t.have.has(i) {
			continue
		}
		if multi {
			if t.seen.has(i) {
				continue
			}
			t.seen.set(i)
		}
		t.dq = append(t.dq, dlEntry{piece: i, at: bestAt})
	}
	if multi {
		for _, e := range t.dq {
			t.seen.clear(e.piece)
		}
	}
}

// preempt cancels, for every peer, its requests beyond its keepStarted
// oldest for pieces that are not due within a queue time: after a seek (or
// a new reader) they would hold up the new window's requests, as peers
// serve requests in order. Pieces no window holds any more go back to the
// pool (the partial ones are finished later like any other); window pieces
// due later are requested again in deadline order.
func (t *Torrent) preempt() {
	horizon := t.now + t.queueTime() + t.tickDt
	soon := t.dq[t.dqStart:]
	for k, e := range soon {
		if e.at > horizon {
			soon = soon[:k]
			break
		}
	}
	for _, e := range soon {
		t.seen.set(e.piece)
	}
	cancelled := false
	for _, p := range t.live {
		if p.outstanding() <= keepStarted {
			continue
		}
		w := p.outHead + keepStarted
		for k := w; k < len(p.out); k++ {
			o := p.out[k]
			if t.seen.has(o.ref.piece) {
				p.out[w] = o
				w++
				continue
			}
			t.unrequest(p, o.ref)
			p.addLate(o.ref)
			t.emit(p, MsgCancel, o.ref.piece, o.ref.block*BlockSize, t.blockLen(o.ref.piece, int(o.ref.block)))
			t.preempted++
			cancelled = true
		}
		if w < len(p.out) {
			p.out = p.out[:w]
			t.markDirty(p)
		}
	}
	for _, e := range soon {
		t.seen.clear(e.piece)
	}
	if cancelled {
		t.bump()
	}
}

// stalled reports whether p has requests out and sent no block in the
// Tick intervals of the last stallPatience during which it had requests
// out.
func (t *Torrent) stalled(p *peer) bool {
	return p.outstanding() > 0 && p.idle >= stallPatience
}

// never is an arrival time later than any deadline.
const never = time.Duration(1<<63 - 1)

// eta returns when p would deliver one more block requested now: after
// its queue, at its measured rate (the best peer's while it has none; the
// stall patience while no peer has one).
func (t *Torrent) eta(p *peer) time.Duration {
	if t.stalled(p) {
		return never
	}
	bps := p.down.est()
	if bps <= 0 {
		bps = t.bestRate
	}
	if bps <= 0 {
		return t.now + stallPatience
	}
	return t.now + time.Duration(float64((p.outstanding()+1)*BlockSize)/bps*float64(time.Second))
}

// fast reports whether p is among the fastest peers: not stalled, not
// snubbed, at least half as fast as the best (or not measured yet).
func (t *Torrent) fast(p *peer) bool {
	if p.snubbed || t.stalled(p) {
		return false
	}
	est := p.down.est()
	return est <= 0 || 2*est >= t.bestRate
}

// pickDeadline requests from p a block of the piece with the earliest
// deadline that p may serve, scanning the deadline queue in order (O(window)
// at worst). A stalled peer serves none. Free blocks of an urgent piece
// (due before the next Tick, when lateness would show) go to any other
// peer; those of a later piece to a peer that is one of the fastest or
// would bring the block before the deadline (its queue at its rate).
// Blocks already requested are duplicated only by a fast peer, or by any
// peer that has not stalled when all their requesters have (at most
// EndgameDuplicates requesters per block, urgentDuplicates for the piece
// at the head of the deadline queue): any block of an urgent piece (a
// local end game), a block of a later piece when its requester is late
// (its expected arrival is lateGrace past, or after the deadline while p
// would bring it dupMargin earlier, or its requester stalled). The first copy to arrive cancels the
// others. The first pass stripes: p takes at most a share of each piece's
// blocks (the piece split among the fast peers), so the peers bring each
// piece at once and pieces complete in deadline order at the swarm's rate
// (in the simulation, whole pieces per peer waste two to three times the
// bytes on duplicates and lengthen the worst read); the second pass, when
// p found nothing, lifts the share. A piece that failed verification is still fetched from
// a single peer.
func (t *Torrent) pickDeadline(p *peer) bool {
	for t.dqStart < len(t.dq) && t.have.has(t.dq[t.dqStart].piece) {
		t.dqStart++
	}
	if t.stalled(p) {
		return false
	}
	eta := t.eta(p)
	fast := t.fast(p)
	n := t.nfast
	if n == 0 {
		n = max(t.unchokingUs, 1)
	}
	share := (t.blocksPer + n - 1) / n
	// Lateness changes with time (Ticks) and the peers' queues: a scan that
	// finds no late block is not repeated until the next Tick, so a peer
	// picking background work does not pay for the window's blocks.
	checkLate := !t.lateScanned
	sawLate := false
	for pass := 0; pass < 2; pass++ {
		for _, e := range t.dq[t.dqStart:] {
			i := e.piece
			if !p.bits.has(i) {
				continue
			}
			urgent := e.at <= t.now+t.tickDt
			switch t.state[i] {
			case stFresh:
				if fast || eta <= e.at || urgent {
					return t.takeFrom(p, i, t.suspect.has(i))
				}
			case stPartial:
				if !fast && eta > e.at && !urgent || pass == 0 && t.held(p, i) >= share {
					continue
				}
				if t.takeFrom(p, i, t.suspect.has(i)) {
					return true
				}
			case stFull:
				if t.suspect.has(i) || !urgent && !checkLate || pass == 0 && t.held(p, i) >= share {
					continue
				}
				limit := t.cfg.EndgameDuplicates
				if urgent && i == t.dq[t.dqStart].piece {
					limit = max(limit, urgentDuplicates) // the piece a reader waits for
				}
				took, late := t.duplicateLate(p, i, e.at, urgent, eta, limit, fast)
				if took {
					return true
				}
				sawLate = sawLate || late
			}
		}
	}
	if checkLate && !sawLate && fast {
		t.lateScanned = true
	}
	return false
}

// heldByStalled reports whether every peer the block is requested from
// has stalled.
func (t *Torrent) heldByStalled(blk *block) bool {
	for _, q := range blk.req[:blk.nreq] {
		if qp := t.lookup(q); qp != nil && !t.stalled(qp) {
			return false
		}
	}
	return true
}

// held counts the blocks of piece i (in flight) requested from p.
func (t *Torrent) held(p *peer, i uint32) int {
	n := 0
	r := &t.recs[t.rec[i]]
	for b := range r.blocks {
		if r.blocks[b].state == blkRequested && r.blocks[b].requestedBy(p.id) {
			n++
		}
	}
	return n
}

// duplicateLate requests from p a block of piece i (all requested, due at
// due) that another peer holds and is late with, or any such block when
// the piece is urgent. It reports whether it did, and whether it saw a
// late block it could not take.
func (t *Torrent) duplicateLate(p *peer, i uint32, due time.Duration, urgent bool, eta time.Duration, limit int, fast bool) (took, sawLate bool) {
	r := &t.recs[t.rec[i]]
	for b := range r.blocks {
		blk := &r.blocks[b]
		if blk.state != blkRequested {
			continue
		}
		// Whether every requester stalled is asked only when it decides
		// something: lateness not already shown by time, or a peer that
		// is not fast.
		timeLate := t.now-lateGrace >= blk.eta || blk.eta > due && eta+dupMargin < blk.eta
		stalled := (!timeLate || !fast) && t.heldByStalled(blk)
		late := timeLate || stalled
		if int(blk.nreq) >= limit || blk.requestedBy(p.id) {
			sawLate = sawLate || late && int(blk.nreq) < t.cfg.EndgameDuplicates
			continue
		}
		if !urgent && !late {
			continue
		}
		if !fast && !stalled {
			// Only fast peers duplicate, but a block whose every
			// requester has stalled goes to any peer that has not: when
			// every peer that has the piece is snubbed, the block would
			// otherwise wait on a silent one after each time-out
			// (FuzzEvents found it).
			continue
		}
		blk.req[blk.nreq] = p.id
		blk.nreq++
		blk.eta = min(blk.eta, eta)
		if late {
			blk.eta = eta
		}
		t.duplicated++
		t.request(p, i, b)
		return true, false
	}
	return false, sawLate
}
