package metadata

import (
	"math/rand/v2"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// maxSlots bounds the peer handles a Fetcher hands out at once.
const maxSlots = 1<<16 - 1

// maxDup is how many peers may be asked for the same piece at once, once
// every missing piece has been asked of someone (end game).
const maxDup = 2

// maxBlame bounds the remembered (piece digest, source) pairs of copies
// that failed the info-hash: four full-size copies.
const maxBlame = 4 * peerwire.MaxMetadataPieces

// Fetcher fetches a torrent's info dictionary from peers (BEP 9) as a
// deterministic state machine: it does no I/O, starts no goroutines and
// reads no clock. The shell reports each event and then drains Ready. See
// the package documentation for the loop.
//
// A Fetcher is not safe for concurrent use; one goroutine (the session's
// event loop) owns it.
type Fetcher struct {
	cfg Config
	rng *rand.Rand
	now time.Duration

	size      int           // the size being fetched; 0 until a peer announces one
	sizeSince time.Duration // when size was chosen
	n         int           // pieces of size
	pieces    [][]byte      // received bytes per piece (len 0 when missing)
	have      []bool        // piece received in the current copy
	src       []PeerID      // who supplied each received piece
	inflight  []uint8       // outstanding requests per piece (timed out ones excluded)
	nhave     int           // pieces received in the current copy
	digests   [][20]byte    // piece digests of the verified copy, for blame

	// solo is set once a copy with several sources failed: from then on a
	// copy comes from one peer at a time (the soloist), so the next failure
	// names its liar, and success convicts the earlier copies' liars by
	// their piece digests (blame).
	solo     bool
	soloist  *peer
	copyFrom PeerID // in solo mode, the only peer whose pieces the copy takes
	blame    []blame
	peers    []*peer // by slot; index 0 unused
	gens     []uint16
	free     []int
	order    []*peer // scratch for scheduling
	startAt  int     // rotates which peer is served first
	done     bool
	info     []byte // the verified metadata, once done
	rd, out  Ready
	hashBuf  []byte
	sizeSeen []sizeCount // scratch for choosing a size
}

type blame struct {
	piece  int
	digest [20]byte
	src    PeerID
}

type sizeCount struct{ size, live, fresh int }

type peer struct {
	id   PeerID
	live bool // connected and not dropped
	size int  // announced metadata_size; 0 = none
	// asked lists outstanding requests (at most MaxInFlight), with the
	// time each was sent.
	asked []ask
	// pend counts, per piece of the peer's own size, requests sent and not
	// yet answered, timed out ones included, so that a late answer is told
	// from an unrequested one.
	pend      []uint8
	notBefore time.Duration // not asked again before this time
	timeouts  int           // consecutive time-outs
	soloTries int           // times chosen to prove a copy alone
}

type ask struct {
	piece int
	at    time.Duration
}

// NewFetcher returns a fetcher for the metadata whose SHA-1 is
// cfg.InfoHash. It fails (wrapping ErrConfig) on an invalid Config.
func NewFetcher(cfg Config) (*Fetcher, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Fetcher{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6a09e667f3bcc909)),
		peers: make([]*peer, 1, 16),
		gens:  make([]uint16, 1, 16),
	}, nil
}

// Done reports whether the metadata has been fetched and verified. From
// then on every event is ignored and AddPeer returns NoPeer.
func (f *Fetcher) Done() bool { return f.done }

// Info returns the verified metadata once Done (the same bytes Ready.Info
// handed over), nil before.
func (f *Fetcher) Info() []byte { return f.info }

// Size returns the metadata size being fetched (the verified size once
// Done), 0 while no peer has announced one.
func (f *Fetcher) Size() int { return f.size }

// Progress returns how many pieces of the current copy have arrived, and
// the piece count of the size being fetched.
func (f *Fetcher) Progress() (have, total int) { return f.nhave, f.n }

// AddPeer registers a peer whose BEP 10 handshake announced ut_metadata
// (a non-zero id in "m"), with the handshake's metadata_size (0 when it
// sent none: such a peer is never asked, as it has no metadata to give).
// A size above MaxSize puts the peer in Ready.Drops at once. It returns the
// peer's handle, or NoPeer when the fetcher is Done or every slot is taken
// (then the peer is simply not used).
func (f *Fetcher) AddPeer(metadataSize int) PeerID {
	if f.done {
		return NoPeer
	}
	var slot int
	if k := len(f.free); k > 0 {
		slot = f.free[k-1]
		f.free = f.free[:k-1]
	} else {
		if len(f.peers) > maxSlots {
			return NoPeer
		}
		slot = len(f.peers)
		f.peers = append(f.peers, nil)
		f.gens = append(f.gens, 0)
	}
	f.gens[slot]++
	if f.gens[slot] == 0 {
		f.gens[slot] = 1
	}
	p := &peer{id: PeerID(slot) | PeerID(f.gens[slot])<<16, live: true, size: max(metadataSize, 0)}
	f.peers[slot] = p
	if metadataSize > MaxSize {
		f.drop(p, ReasonTooLarge, false)
		return p.id
	}
	if f.size == 0 && p.size > 0 {
		f.setSize(p.size)
	}
	return p.id
}

// PeerGone forgets a peer: its connection closed (after a Drop or for any
// other reason), or it disabled ut_metadata. Its outstanding requests go
// to other peers. The handle becomes stale.
func (f *Fetcher) PeerGone(id PeerID) {
	p := f.lookup(id)
	if p == nil {
		return
	}
	f.detach(p)
	f.peers[id.Slot()] = nil
	f.free = append(f.free, id.Slot())
}

// Data reports a ut_metadata data message from a peer: the piece, the
// total_size it announced and the piece's bytes (copied; the caller may
// reuse data). A total_size other than the peer's metadata_size, a piece
// never asked of the peer, or bytes of the wrong length put the peer in
// Ready.Drops. A late answer to a request that timed out is accepted.
func (f *Fetcher) Data(id PeerID, piece, totalSize int, data []byte) {
	p := f.lookup(id)
	if p == nil || !p.live || f.done {
		return
	}
	if totalSize != p.size {
		f.drop(p, ReasonSizeMismatch, false)
		return
	}
	if !f.answered(p, piece) {
		f.drop(p, ReasonUnrequested, false)
		return
	}
	if len(data) != peerwire.MetadataPieceLen(p.size, piece) {
		f.drop(p, ReasonBadLength, false)
		return
	}
	p.timeouts = 0
	if p.size != f.size {
		return // asked before the fetcher moved to another size
	}
	if f.have[piece] || (f.solo && p.id != f.copyFrom) {
		return // a duplicate, or not from the peer proving a copy
	}
	f.pieces[piece] = append(f.pieces[piece][:0], data...)
	f.have[piece] = true
	f.src[piece] = p.id
	f.nhave++
	if f.nhave == f.n {
		f.judge()
	}
}

// Reject reports a ut_metadata reject from a peer. The piece goes to
// another peer and this one is not asked again for RejectBackoff. A reject
// for a piece not asked is ignored.
func (f *Fetcher) Reject(id PeerID, piece int) {
	p := f.lookup(id)
	if p == nil || !p.live || f.done {
		return
	}
	if !f.answered(p, piece) {
		return
	}
	p.notBefore = max(p.notBefore, f.now+f.cfg.RejectBackoff)
	if p == f.soloist {
		f.abandonSolo()
	}
}

// Tick advances the fetcher's clock to now (a monotonic duration since
// any fixed origin; it must not go backwards) and times out requests left
// unanswered for RequestTimeout. Tick about once a second.
func (f *Fetcher) Tick(now time.Duration) {
	if now > f.now {
		f.now = now
	}
	if f.done {
		return
	}
	for _, p := range f.peers {
		if p == nil || !p.live || len(p.asked) == 0 {
			continue
		}
		kept := p.asked[:0]
		timedOut := false
		for _, a := range p.asked {
			if f.now-a.at >= f.cfg.RequestTimeout {
				f.inflight[a.piece]--
				timedOut = true
			} else {
				kept = append(kept, a)
			}
		}
		p.asked = kept
		if timedOut {
			p.timeouts++
			p.notBefore = max(p.notBefore, f.now+f.backoff(p.timeouts))
			if p == f.soloist {
				f.abandonSolo()
			}
		}
	}
}

func (f *Fetcher) backoff(k int) time.Duration {
	d := f.cfg.RequestTimeout
	for i := 1; i < k && d < f.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, f.cfg.MaxBackoff)
}

// Ready hands out requests for the pieces still missing (several peers in
// parallel, MaxInFlight each) and returns the batch of decisions. The
// batch and its slices stay valid until the next call to Ready.
func (f *Fetcher) Ready() *Ready {
	if !f.done {
		f.maybeSwitchSize()
		f.schedule()
	}
	f.out, f.rd = f.rd, f.out
	f.rd.reset()
	return &f.out
}

func (f *Fetcher) lookup(id PeerID) *peer {
	s := id.Slot()
	if s == 0 || s >= len(f.peers) {
		return nil
	}
	if p := f.peers[s]; p != nil && p.id == id {
		return p
	}
	return nil
}

// answered records an answer (data or reject) from p for piece: false when
// p was never asked for it (or has answered every request for it).
func (f *Fetcher) answered(p *peer, piece int) bool {
	if piece < 0 || piece >= len(p.pend) || p.pend[piece] == 0 {
		return false
	}
	p.pend[piece]--
	for i, a := range p.asked {
		if a.piece == piece {
			f.inflight[piece]--
			p.asked = append(p.asked[:i], p.asked[i+1:]...)
			break
		}
	}
	return true
}

// detach forgets p's requests and takes it out of scheduling.
func (f *Fetcher) detach(p *peer) {
	if !p.live {
		return
	}
	p.live = false
	for _, a := range p.asked {
		f.inflight[a.piece]--
	}
	p.asked, p.pend = nil, nil
	if p == f.soloist {
		f.abandonSolo()
	}
}

func (f *Fetcher) drop(p *peer, r Reason, ban bool) {
	if !p.live {
		return
	}
	f.detach(p)
	f.rd.Drops = append(f.rd.Drops, Drop{Peer: p.id, Reason: r, Ban: ban})
}

// setSize starts fetching a metadata of size bytes, discarding any copy
// of another size. Outstanding requests no longer count (answers to them
// are still welcome: pend, indexed by the peer's own size, remembers them).
func (f *Fetcher) setSize(size int) {
	for _, p := range f.peers {
		if p != nil {
			p.asked = p.asked[:0]
		}
	}
	f.size, f.sizeSince = size, f.now
	f.n = peerwire.MetadataPieces(size)
	f.pieces = make([][]byte, f.n)
	f.have = make([]bool, f.n)
	f.src = make([]PeerID, f.n)
	f.inflight = make([]uint8, f.n)
	f.nhave = 0
	f.solo, f.soloist, f.copyFrom, f.blame = false, nil, NoPeer, nil
}

// maybeSwitchSize moves to another announced size when no peer with the
// current one is of use any more: the first announcer may have lied, and
// honest peers announcing the true size must not be dropped for
// disagreeing with it. Peers of the other sizes wait (never asked) until
// the metadata verifies, and are dropped then. The size changes when every
// peer with the current size is gone, or is stale (timed out without
// answering since, or backing off after a reject) while a peer with
// another size is not, or has been stale for MaxBackoff (so that a
// swarm where everyone stalls still tries each size in turn). The size
// most fresh peers, then most peers, announce is chosen; the copy in
// progress is discarded.
func (f *Fetcher) maybeSwitchSize() {
	f.sizeSeen = f.sizeSeen[:0]
	curLive := 0
	for _, p := range f.peers {
		if p == nil || !p.live || p.size == 0 {
			continue
		}
		fresh := p.timeouts == 0 && f.now >= p.notBefore
		if p.size == f.size {
			if fresh {
				return
			}
			curLive++
			continue
		}
		i := 0
		for i < len(f.sizeSeen) && f.sizeSeen[i].size != p.size {
			i++
		}
		if i == len(f.sizeSeen) {
			f.sizeSeen = append(f.sizeSeen, sizeCount{size: p.size})
		}
		f.sizeSeen[i].live++
		if fresh {
			f.sizeSeen[i].fresh++
		}
	}
	best := sizeCount{}
	for _, s := range f.sizeSeen {
		if s.fresh > best.fresh || (s.fresh == best.fresh && s.live > best.live) {
			best = s
		}
	}
	if best.live == 0 {
		return
	}
	if curLive == 0 || best.fresh > 0 || f.now-f.sizeSince >= f.cfg.MaxBackoff {
		f.setSize(best.size)
	}
}

func (f *Fetcher) eligible(p *peer) bool {
	return p != nil && p.live && p.size == f.size && f.now >= p.notBefore
}

func (f *Fetcher) schedule() {
	if f.size == 0 {
		return
	}
	if f.solo {
		if !f.eligible(f.soloist) {
			f.pickSoloist()
		}
		if f.soloist == nil {
			return
		}
		if f.soloist.id != f.copyFrom {
			f.resetCopy() // a copy never mixes two soloists' pieces
			f.copyFrom = f.soloist.id
		}
		f.fill(f.soloist)
		return
	}
	if len(f.peers) <= 1 {
		return
	}
	// Serve peers from a rotating start so that no slot is always first.
	f.startAt = (f.startAt + 1) % (len(f.peers) - 1)
	for i := range len(f.peers) - 1 {
		p := f.peers[1+(f.startAt+i)%(len(f.peers)-1)]
		if f.eligible(p) {
			f.fill(p)
		}
	}
}

// fill asks p for pieces until it has MaxInFlight outstanding or nothing
// is left to ask it.
func (f *Fetcher) fill(p *peer) {
	for len(p.asked) < f.cfg.MaxInFlight {
		piece := f.pick(p)
		if piece < 0 {
			return
		}
		if len(p.pend) != f.n {
			p.pend = make([]uint8, f.n)
		}
		if p.pend[piece] == 255 {
			return // answers owed already: wait for them
		}
		p.pend[piece]++
		p.asked = append(p.asked, ask{piece: piece, at: f.now})
		f.inflight[piece]++
		f.rd.Requests = append(f.rd.Requests, Request{Peer: p.id, Piece: piece})
	}
}

// pick chooses the piece to ask p for: the first missing piece nobody is
// asked for; failing that (end game), the missing piece with the fewest
// outstanding requests below maxDup. In solo mode other peers' requests do
// not count. -1 when there is nothing to ask p.
func (f *Fetcher) pick(p *peer) int {
	best, bestN := -1, maxDup
	for i := range f.n {
		if f.have[i] || p.asking(i) {
			continue
		}
		if f.solo || f.inflight[i] == 0 {
			return i
		}
		if int(f.inflight[i]) < bestN {
			best, bestN = i, int(f.inflight[i])
		}
	}
	return best
}

func (p *peer) asking(piece int) bool {
	for _, a := range p.asked {
		if a.piece == piece {
			return true
		}
	}
	return false
}
