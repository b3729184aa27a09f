package core

import (
	"math/rand/v2"
	"time"
)

// Piece states. A wanted piece we lack moves fresh → partial → full →
// hashing → have, and back to fresh when its blocks all return to the pool
// or it fails verification.
const (
	stUnwanted uint8 = iota // not wanted, not started: in no list
	stFresh                 // wanted, no block requested or received: in buckets[avail]
	stPartial               // has a record and at least one free block: in partial
	stFull                  // has a record, no free block, not all received: in full
	stHashing               // every block received, waiting for PieceHashed
	stHave                  // verified
)

// Torrent is the deterministic core of one torrent's download and upload:
// piece picking, request pipelining, choking and verification accounting.
// It does no I/O, starts no goroutines and reads no clock: the shell calls
// one method per event and then drains Ready. See the package documentation
// for the loop.
//
// A Torrent is not safe for concurrent use; one goroutine (the session's
// event loop) owns it.
type Torrent struct {
	cfg       Config
	n         int   // piece count
	lastLen   int64 // length of the last piece
	blocksPer int   // blocks in a full piece
	rng       *rand.Rand
	now       time.Duration // latest Tick
	ticked    bool          // a Tick has been seen
	secondAt  time.Duration // Tick that started the current second
	tickDt    time.Duration // interval between the last two Ticks

	state   []uint8  // per piece: st*
	avail   []uint32 // per piece: how many live peers have it, seeds not counted
	seeds   int      // live peers with every piece (see seedAll)
	pos     []uint32 // per piece: index in its bucket or in the partial, owned or full list
	rec     []int32  // per piece: index in recs, or -1
	have    bitset   // verified pieces
	want    bitset   // wanted pieces: wantSet | dl
	wantSet bitset   // pieces selected with SetWanted
	need    bitset   // want &^ have
	// suspect marks pieces that failed verification: until verified they
	// are downloaded from a single peer (no help, no end game duplicates).
	suspect bitset

	prio     []uint8             // per piece: its Priority
	tiers    [numPriorities]tier // fresh wanted pieces by priority and availability
	partial  []uint32            // pieces in stPartial nobody owns (orphans)
	owned    []uint32            // pieces in stPartial that are some peer's current piece
	full     []uint32            // pieces in stFull
	recs     []record            // piece progress records
	freeRecs []int32             // unused indices in recs

	peers     []*peer // by slot; index 0 unused
	freeSlots []int
	live      []*peer // connected, not dropped
	dirty     []*peer // peers whose pipeline may need filling
	work      []*peer // the dirty peers being served by Ready
	stuckList []*peer // peers whose last pick failed, retried on bump

	epoch   uint64 // bumped when blocks return to the pool
	endgame bool

	readers     []reader  // streaming readers' windows (deadline.go)
	dl          bitset    // pieces inside some reader's window
	dq          []dlEntry // window pieces not verified at the last rebuild, by deadline
	dqStart     int       // dq[:dqStart] are verified
	seen        bitset    // scratch of rebuildDeadlines
	bestRate    float64   // the fastest peer's download rate at the last Tick
	nfast       int       // peers unchoking us and fast at the last Tick
	duplicated  int64     // deadline blocks requested from a second peer
	lateScanned bool      // no late deadline block since the last Tick (pickDeadline)
	preempted   int64     // requests cancelled by seeks

	haveCount   int
	wantCount   int   // wanted pieces
	needCount   int   // wanted pieces not verified
	left        int64 // bytes of wanted pieces not verified
	downloaded  int64 // accepted payload bytes
	uploaded    int64
	wasted      int64 // late, duplicate and failed payload bytes
	hashFails   int
	completed   bool
	down, up    rate
	nextRechoke time.Duration
	nextOptim   time.Duration
	optimistic  *peer
	nUnchoked   int // live peers we unchoke
	unchokingUs int // live peers that unchoke us

	rd, out Ready        // rd accumulates; out is handed to the shell
	scratch []*peer      // reused by the choker
	contrib []PeerID     // reused by PieceHashed
	fails   []failRecord // failed pieces remembered for smart banning
}

// New returns the core of a torrent with no piece verified and every piece
// wanted. It fails (wrapping ErrConfig) when the Config's geometry is
// inconsistent.
func New(cfg Config) (*Torrent, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	n := cfg.NumPieces
	t := &Torrent{
		cfg:       cfg,
		n:         n,
		lastLen:   cfg.TotalLength - int64(n-1)*cfg.PieceLength,
		blocksPer: int((cfg.PieceLength + BlockSize - 1) / BlockSize),
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		state:     make([]uint8, n),
		avail:     make([]uint32, n),
		pos:       make([]uint32, n),
		rec:       make([]int32, n),
		have:      newBitset(n),
		want:      newBitset(n),
		wantSet:   newBitset(n),
		need:      newBitset(n),
		dl:        newBitset(n),
		seen:      newBitset(n),
		suspect:   newBitset(n),
		prio:      make([]uint8, n),
		peers:     make([]*peer, 1, 16),
		wantCount: n,
		needCount: n,
		left:      cfg.TotalLength,
	}
	for k := range t.tiers {
		t.tiers[k] = tier{buckets: make([][]uint32, 1, 8), lowest: 1}
	}
	t.tiers[PriorityNormal].buckets[0] = make([]uint32, 0, n)
	for i := range n {
		t.rec[i] = -1
		t.want.set(uint32(i))
		t.wantSet.set(uint32(i))
		t.need.set(uint32(i))
		t.state[i] = stFresh
		t.bucketAdd(uint32(i))
	}
	return t, nil
}

// NumPieces returns the torrent's piece count.
func (t *Torrent) NumPieces() int { return t.n }

// PieceLen returns the length in bytes of piece i (0 when out of range).
func (t *Torrent) PieceLen(i uint32) int64 {
	switch {
	case int(i) >= t.n:
		return 0
	case int(i) == t.n-1:
		return t.lastLen
	}
	return t.cfg.PieceLength
}

func (t *Torrent) numBlocks(i uint32) int {
	return int((t.PieceLen(i) + BlockSize - 1) / BlockSize)
}

func (t *Torrent) blockLen(i uint32, b int) uint32 {
	l := t.PieceLen(i) - int64(b)*BlockSize
	return uint32(min(l, BlockSize))
}

// HasPiece reports whether piece i is verified.
func (t *Torrent) HasPiece(i uint32) bool { return int(i) < t.n && t.have.has(i) }

// Wanted reports whether piece i is wanted: selected with SetWanted, or
// inside a reader's window.
func (t *Torrent) Wanted(i uint32) bool { return int(i) < t.n && t.want.has(i) }

// Complete reports whether every wanted piece is verified.
func (t *Torrent) Complete() bool { return t.needCount == 0 }

// Seeding reports whether every piece is verified.
func (t *Torrent) Seeding() bool { return t.haveCount == t.n }

// AppendBitfield appends our verified pieces in peer wire bitfield format
// (ceil(n/8) bytes, high bit first, spare bits zero) to dst.
func (t *Torrent) AppendBitfield(dst []byte) []byte {
	for i := 0; i < t.n; i += 8 {
		var b byte
		for j := 0; j < 8 && i+j < t.n; j++ {
			if t.have.has(uint32(i + j)) {
				b |= 0x80 >> j
			}
		}
		dst = append(dst, b)
	}
	return dst
}

// SetHave marks piece i verified without telling peers: use it while
// checking existing data, before the first peer connects. Out-of-range
// indices and pieces already had are ignored. A piece with requests in
// flight is taken out of the picker and its requests are cancelled.
func (t *Torrent) SetHave(i uint32) {
	if int(i) >= t.n || t.have.has(i) {
		return
	}
	t.abandon(i)
	t.markHave(i)
}

// SetWanted selects or deselects piece i for download (every piece is
// wanted initially). Pieces already in flight finish regardless; interest
// in peers is updated at once. A piece inside a reader's window stays
// wanted until the window leaves it.
func (t *Torrent) SetWanted(i uint32, wanted bool) {
	if int(i) >= t.n || t.wantSet.has(i) == wanted {
		return
	}
	if wanted {
		t.wantSet.set(i)
	} else {
		t.wantSet.clear(i)
	}
	if !t.dl.has(i) {
		t.setWant(i, wanted)
	}
}

// setWant changes whether piece i is wanted (SetWanted's selection or a
// reader's window).
func (t *Torrent) setWant(i uint32, wanted bool) {
	if t.want.has(i) == wanted {
		return
	}
	if wanted {
		t.want.set(i)
		t.wantCount++
		if !t.have.has(i) {
			t.needCount++
			t.left += t.PieceLen(i)
			t.completed = false
			t.addNeed(i)
			if t.state[i] == stUnwanted {
				t.state[i] = stFresh
				t.bucketAdd(i)
				t.bump()
			}
		}
		return
	}
	t.want.clear(i)
	t.wantCount--
	if !t.have.has(i) {
		t.needCount--
		t.left -= t.PieceLen(i)
		t.dropNeed(i)
		if t.state[i] == stFresh {
			t.bucketRemove(i)
			t.state[i] = stUnwanted
		}
		t.checkComplete()
	}
}

// Priority orders the wanted pieces: fresh pieces of a higher priority are
// picked before any of a lower one (rarest first within a priority).
type Priority uint8

// Priorities of SetPriority.
const (
	PriorityNormal Priority = iota
	PriorityHigh
	numPriorities
)

// SetPriority sets piece i's priority (every piece starts Normal); pieces
// already in flight finish as they are. Out-of-range pieces and unknown
// priorities are ignored.
func (t *Torrent) SetPriority(i uint32, p Priority) {
	if int(i) >= t.n || p >= numPriorities || Priority(t.prio[i]) == p {
		return
	}
	if t.state[i] != stFresh {
		t.prio[i] = uint8(p)
		return
	}
	t.bucketRemove(i)
	t.prio[i] = uint8(p)
	t.bucketAdd(i)
	t.bump()
}

// addNeed records that we now need piece i: peers having it become
// interesting.
func (t *Torrent) addNeed(i uint32) {
	t.need.set(i)
	for _, p := range t.live {
		if p.npieces == t.n || p.bits.has(i) {
			p.interesting++
			t.updateInterest(p)
		}
	}
}

// dropNeed records that we no longer need piece i.
func (t *Torrent) dropNeed(i uint32) {
	t.need.clear(i)
	for _, p := range t.live {
		if p.npieces == t.n || p.bits.has(i) { // seeds first: no bitset read
			p.interesting--
			t.updateInterest(p)
		}
	}
}

func (t *Torrent) markHave(i uint32) {
	if t.state[i] == stFresh {
		t.bucketRemove(i)
	}
	t.state[i] = stHave
	t.have.set(i)
	t.suspect.clear(i)
	t.haveCount++
	if t.want.has(i) {
		t.needCount--
		t.left -= t.PieceLen(i)
		t.dropNeed(i)
	}
	if t.haveCount == t.n {
		for _, p := range t.scratchLive() {
			if p.npieces == t.n {
				t.drop(p, ReasonBothSeeds, false)
			}
		}
	}
}

func (t *Torrent) checkComplete() {
	if t.needCount == 0 && !t.completed {
		t.completed = true
		t.rd.Completed = true
	}
}

// scratchLive returns a copy of the live list, safe to iterate while peers
// are dropped.
func (t *Torrent) scratchLive() []*peer {
	t.scratch = append(t.scratch[:0], t.live...)
	return t.scratch
}

// Ready finishes the work the events since the last call made pending (it
// fills request pipelines) and returns the batch of decisions. The batch
// and its slices stay valid until the next call to Ready.
func (t *Torrent) Ready() *Ready {
	t.checkComplete()
	// Snubbed peers pick last, so a block released from a silent peer goes
	// to a working one rather than straight back to a silent one. Filling
	// may mark more peers dirty (end game starts, a piece is orphaned):
	// they are served in further passes; anything left after a few passes
	// stays dirty for the next call.
	for pass := 0; pass < 4 && len(t.dirty) > 0; pass++ {
		t.work, t.dirty = t.dirty, t.work[:0]
		for _, p := range t.work {
			if p.snubbed {
				continue
			}
			p.dirty = false
			t.fill(p)
		}
		for _, p := range t.work {
			if p.snubbed && p.dirty {
				p.dirty = false
				t.fill(p)
			}
		}
		clear(t.work)
	}
	t.out, t.rd = t.rd, t.out
	t.rd.reset()
	return &t.out
}

func (t *Torrent) emit(p *peer, k MsgKind, piece, begin, length uint32) {
	t.rd.Messages = append(t.rd.Messages, Message{Peer: p.id, Kind: k, Piece: piece, Begin: begin, Length: length})
}

// bump records that blocks returned to the pool: peers whose last pick
// failed may now succeed.
func (t *Torrent) bump() {
	t.epoch++
	t.endgame = false
	// Only peers whose last pick failed need another try; the others are
	// dirty already or have full pipelines. This keeps a peer's message
	// flood (choke/unchoke, rejects) from costing a scan of every peer.
	for _, p := range t.stuckList {
		p.inStuck = false
		if p.live && !p.closing {
			t.markDirty(p)
		}
	}
	clear(t.stuckList)
	t.stuckList = t.stuckList[:0]
}

func (t *Torrent) markDirty(p *peer) {
	if !p.dirty {
		p.dirty = true
		t.dirty = append(t.dirty, p)
	}
}

// bitset is a fixed-size set of piece indices.
type bitset []uint64

func newBitset(n int) bitset       { return make(bitset, (n+63)/64) }
func (b bitset) has(i uint32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b bitset) set(i uint32)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) clear(i uint32)    { b[i>>6] &^= 1 << (i & 63) }
