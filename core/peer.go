package core

import (
	"slices"
	"time"
)

// lateCap bounds how many cancelled or abandoned requests per peer are
// remembered, so that a block answering one of them is discarded quietly
// instead of being taken for unrequested data.
const lateCap = 512

// Small per-peer sets from BEP 6 messages are bounded; extra entries are
// ignored.
const (
	maxAllowedFast = 32
	maxSuggest     = 8
)

// reqRef names one block: piece and block number.
type reqRef struct {
	piece uint32
	block uint32
}

// outReq is a request in flight and when it was sent.
type outReq struct {
	ref reqRef
	at  time.Duration
}

// peer is the core's state for one connection.
type peer struct {
	id      PeerID
	live    bool // slot in use (until PeerGone)
	closing bool // dropped by the core or gone: events ignored
	fast    bool
	reqq    int
	liveIdx int // index in Torrent.live
	dirty   bool

	bits        bitset // pieces the peer has
	npieces     int
	seedCounted bool // has every piece, counted in Torrent.seeds, not in avail
	gotAvail    bool // bitfield, have-all or have-none seen
	sawHave     bool
	interesting int // pieces it has that we need

	amInterested   bool
	amChoking      bool
	peerChoking    bool
	peerInterested bool
	optimistic     bool
	snubbed        bool

	out     []outReq // outstanding requests, oldest first, from outHead
	outHead int
	late    [lateCap]reqRef // ring of cancelled requests
	lateLen int
	lateAt  int

	target       int  // pipeline length
	slowStart    bool // grow target per block until the rate stops growing
	lastRate     float64
	lastProgress time.Duration // last block, or when requests started

	cur        int64    // piece being downloaded from this peer, -1 if none
	fastSet    []uint32 // pieces the peer allows us while it chokes us
	granted    []uint32 // pieces we allow the peer while we choke it
	suggest    []uint32
	stuck      bool   // last pick failed...
	stuckEpoch uint64 // ...at this epoch
	inStuck    bool   // in Torrent.stuckList
	egCursor   int

	strikes     int
	connectedAt time.Duration
	unchokedAt  time.Duration
	chokedAt    time.Duration
	down, up    rate
	downloaded  int64
	uploaded    int64
}

func (p *peer) outstanding() int { return len(p.out) - p.outHead }

// removeOut deletes r from the outstanding list. Peers answer in order, so
// r is nearly always at the head and removal is O(1).
func (p *peer) removeOut(r reqRef) bool {
	for i := p.outHead; i < len(p.out); i++ {
		if p.out[i].ref == r {
			copy(p.out[p.outHead+1:i+1], p.out[p.outHead:i])
			p.outHead++
			if p.outHead == len(p.out) {
				p.out = p.out[:0]
				p.outHead = 0
			}
			return true
		}
	}
	return false
}

func (p *peer) pushOut(r outReq) {
	if p.outHead > 0 && len(p.out) == cap(p.out) {
		n := copy(p.out, p.out[p.outHead:])
		p.out = p.out[:n]
		p.outHead = 0
	}
	p.out = append(p.out, r)
}

func (p *peer) addLate(r reqRef) {
	p.late[p.lateAt] = r
	p.lateAt = (p.lateAt + 1) % lateCap
	p.lateLen = min(p.lateLen+1, lateCap)
}

// takeLate removes r from the late ring, reporting whether it was there.
func (p *peer) takeLate(r reqRef) bool {
	for k := 0; k < p.lateLen; k++ {
		i := (p.lateAt - 1 - k + 2*lateCap) % lateCap
		if p.late[i] == r {
			p.late[i] = reqRef{piece: ^uint32(0)}
			return true
		}
	}
	return false
}

func (t *Torrent) lookup(id PeerID) *peer {
	s := id.Slot()
	if s == 0 || s >= len(t.peers) {
		return nil
	}
	p := t.peers[s]
	if p == nil || !p.live || p.id != id || p.closing {
		return nil
	}
	return p
}

// PeerConnected registers a peer whose handshake completed and returns its
// handle. It returns NoPeer when 65,535 peers are already registered.
func (t *Torrent) PeerConnected(caps Caps) PeerID {
	var p *peer
	var slot int
	if k := len(t.freeSlots); k > 0 {
		slot = t.freeSlots[k-1]
		t.freeSlots = t.freeSlots[:k-1]
		p = t.peers[slot]
	} else {
		slot = len(t.peers)
		if slot > 0xffff {
			return NoPeer
		}
		p = &peer{bits: newBitset(t.n)}
		t.peers = append(t.peers, p)
	}
	gen := (uint32(p.id)>>16)%0xffff + 1
	clear(p.bits)
	*p = peer{
		id:          PeerID(gen<<16 | uint32(slot)),
		live:        true,
		fast:        caps.Fast,
		bits:        p.bits,
		out:         p.out[:0],
		fastSet:     p.fastSet[:0],
		granted:     p.granted[:0],
		suggest:     p.suggest[:0],
		amChoking:   true,
		peerChoking: true,
		cur:         -1,
		target:      t.cfg.MinRequests,
		slowStart:   true,
		connectedAt: t.now,
		chokedAt:    t.now,
	}
	t.setReqQ(p, caps.ReqQ)
	p.liveIdx = len(t.live)
	t.live = append(t.live, p)
	return p.id
}

// PeerReqQ records the "reqq" of the peer's BEP 10 handshake, which may
// arrive after PeerConnected.
func (t *Torrent) PeerReqQ(id PeerID, reqq int) {
	if p := t.lookup(id); p != nil {
		t.setReqQ(p, reqq)
	}
}

func (t *Torrent) setReqQ(p *peer, reqq int) {
	if reqq <= 0 {
		reqq = DefaultReqQ
	}
	p.reqq = reqq
	p.target = min(p.target, t.maxTarget(p))
}

func (t *Torrent) maxTarget(p *peer) int {
	return max(min(p.reqq, t.cfg.MaxRequests), 1)
}

// PeerGone tells the core the connection is closed: its requests return to
// the pool and its pieces no longer count toward availability. The PeerID
// is invalid afterwards.
func (t *Torrent) PeerGone(id PeerID) {
	s := id.Slot()
	if s == 0 || s >= len(t.peers) {
		return
	}
	p := t.peers[s]
	if p == nil || !p.live || p.id != id {
		return
	}
	if !p.closing {
		t.teardown(p)
	}
	p.live = false
	t.freeSlots = append(t.freeSlots, s)
}

// drop asks the shell to disconnect p and forgets its state at once.
func (t *Torrent) drop(p *peer, r Reason, ban bool) {
	if p.closing {
		return
	}
	t.rd.Drops = append(t.rd.Drops, Drop{Peer: p.id, Reason: r, Ban: ban})
	t.teardown(p)
}

// teardown returns p's requests to the pool and removes its availability.
func (t *Torrent) teardown(p *peer) {
	t.setCur(p, -1)
	t.releaseAll(p, false)
	if p.seedCounted {
		t.seeds--
	} else {
		for w, word := range p.bits {
			for word != 0 {
				b := uint32(w*64) + uint32(trailingZeros(word))
				word &= word - 1
				t.availDec(b)
			}
		}
	}
	p.closing = true
	last := t.live[len(t.live)-1]
	t.live[p.liveIdx] = last
	last.liveIdx = p.liveIdx
	t.live = t.live[:len(t.live)-1]
	if t.optimistic == p {
		t.optimistic = nil
	}
	if !p.amChoking {
		t.nUnchoked--
	}
}

// PeerBitfield records the peer's bitfield in wire format. It must be the
// peer's first availability message and exactly ceil(n/8) bytes with the
// spare bits zero; otherwise the peer is dropped (ReasonBadBitfield).
func (t *Torrent) PeerBitfield(id PeerID, bf []byte) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if p.gotAvail || p.sawHave || len(bf) != (t.n+7)/8 {
		t.drop(p, ReasonBadBitfield, false)
		return
	}
	if spare := t.n % 8; spare != 0 && bf[len(bf)-1]&(0xff>>spare) != 0 {
		t.drop(p, ReasonBadBitfield, false)
		return
	}
	p.gotAvail = true
	if allSet(bf, t.n) {
		t.seedAll(p)
		t.afterGain(p)
		return
	}
	for i, b := range bf {
		for b != 0 {
			j := leadingZeros8(b)
			b &^= 0x80 >> j
			t.peerGains(p, uint32(i*8+j))
		}
	}
	t.afterGain(p)
}

// PeerHave records a HAVE. An index out of range drops the peer
// (ReasonBadIndex); a repeated HAVE is ignored.
func (t *Torrent) PeerHave(id PeerID, piece uint32) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if int(piece) >= t.n {
		t.drop(p, ReasonBadIndex, false)
		return
	}
	p.sawHave = true
	if p.bits.has(piece) {
		return
	}
	t.peerGains(p, piece)
	t.afterGain(p)
}

// PeerHaveAll records a BEP 6 HAVE ALL. Without the fast extension, or
// after another availability message, the peer is dropped.
func (t *Torrent) PeerHaveAll(id PeerID) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if !p.fast || p.gotAvail || p.sawHave {
		t.drop(p, ReasonProtocol, false)
		return
	}
	p.gotAvail = true
	t.seedAll(p)
	t.afterGain(p)
}

// PeerHaveNone records a BEP 6 HAVE NONE, with the same rules as
// PeerHaveAll.
func (t *Torrent) PeerHaveNone(id PeerID) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if !p.fast || p.gotAvail || p.sawHave {
		t.drop(p, ReasonProtocol, false)
		return
	}
	p.gotAvail = true
}

// seedAll records that p has every piece. Seeds are counted apart
// (t.seeds): they add one to every piece alike, which leaves the rarity
// order unchanged, so a seed's arrival and departure cost O(n/64), not n
// bucket moves.
func (t *Torrent) seedAll(p *peer) {
	for w := range p.bits {
		p.bits[w] = ^uint64(0)
	}
	if r := t.n % 64; r != 0 {
		p.bits[len(p.bits)-1] = 1<<r - 1
	}
	p.npieces = t.n
	p.interesting = t.needCount
	p.seedCounted = true
	t.seeds++
}

// allSet reports whether a wire bitfield of n pieces has every bit set.
func allSet(bf []byte, n int) bool {
	for i := 0; i < n/8; i++ {
		if bf[i] != 0xff {
			return false
		}
	}
	if r := n % 8; r != 0 {
		return bf[n/8] == byte(0xff<<(8-r))
	}
	return true
}

func (t *Torrent) peerGains(p *peer, i uint32) {
	p.bits.set(i)
	p.npieces++
	t.availInc(i)
	if t.need.has(i) {
		p.interesting++
	}
}

func (t *Torrent) afterGain(p *peer) {
	t.updateInterest(p)
	p.stuck = false
	t.markDirty(p)
	if p.npieces == t.n && t.haveCount == t.n {
		t.drop(p, ReasonBothSeeds, false)
	}
}

// updateInterest sends INTERESTED or NOT INTERESTED when our need of the
// peer's pieces changed.
func (t *Torrent) updateInterest(p *peer) {
	want := p.interesting > 0
	if want == p.amInterested {
		return
	}
	p.amInterested = want
	if want {
		t.emit(p, MsgInterested, 0, 0, 0)
		p.stuck = false
		t.markDirty(p)
	} else {
		t.emit(p, MsgNotInterested, 0, 0, 0)
	}
}

// PeerChoke records that the peer choked us. Without the fast extension the
// peer discards our requests, so they return to the pool; with it, the peer
// rejects them explicitly (PeerReject) and allowed-fast requests go on.
func (t *Torrent) PeerChoke(id PeerID) {
	p := t.lookup(id)
	if p == nil || p.peerChoking {
		return
	}
	p.peerChoking = true
	t.setCur(p, -1) // others may finish its piece
	if !p.fast {
		t.releaseAll(p, false)
	}
}

// PeerUnchoke records that the peer unchoked us; requests follow in Ready.
func (t *Torrent) PeerUnchoke(id PeerID) {
	p := t.lookup(id)
	if p == nil || !p.peerChoking {
		return
	}
	p.peerChoking = false
	p.stuck = false
	if p.outstanding() == 0 {
		p.lastProgress = t.now
	}
	t.markDirty(p)
}

// PeerInterested records that the peer is interested in us. If a regular
// unchoke slot, or the optimistic one, is free it is unchoked at once.
func (t *Torrent) PeerInterested(id PeerID) {
	p := t.lookup(id)
	if p == nil || p.peerInterested {
		return
	}
	p.peerInterested = true
	if !p.amChoking {
		return
	}
	switch {
	case t.regularUnchoked() < t.cfg.UnchokeSlots:
		t.unchoke(p)
	case t.optimistic == nil:
		p.optimistic = true
		t.optimistic = p
		t.unchoke(p)
	}
}

// PeerNotInterested records that the peer lost interest; its unchoke slot
// is reassigned at the next rechoke.
func (t *Torrent) PeerNotInterested(id PeerID) {
	if p := t.lookup(id); p != nil {
		p.peerInterested = false
	}
}

// PeerAllowedFast records a BEP 6 ALLOWED FAST: we may request blocks of
// the piece while the peer chokes us. Out of range drops the peer; without
// the fast extension it is a protocol violation.
func (t *Torrent) PeerAllowedFast(id PeerID, piece uint32) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if !p.fast {
		t.drop(p, ReasonProtocol, false)
		return
	}
	if int(piece) >= t.n {
		t.drop(p, ReasonBadIndex, false)
		return
	}
	for _, f := range p.fastSet {
		if f == piece {
			return
		}
	}
	if len(p.fastSet) < maxAllowedFast {
		p.fastSet = append(p.fastSet, piece)
		p.stuck = false
		t.markDirty(p)
	}
}

// PeerSuggest records a BEP 6 SUGGEST PIECE, honoured as a hint: the piece
// is preferred for the peer's next new piece if the peer has it and we need
// it.
func (t *Torrent) PeerSuggest(id PeerID, piece uint32) {
	p := t.lookup(id)
	if p == nil {
		return
	}
	if !p.fast {
		t.drop(p, ReasonProtocol, false)
		return
	}
	if int(piece) >= t.n {
		t.drop(p, ReasonBadIndex, false)
		return
	}
	if len(p.suggest) >= maxSuggest {
		copy(p.suggest, p.suggest[1:])
		p.suggest = p.suggest[:len(p.suggest)-1]
	}
	p.suggest = append(p.suggest, piece)
}

// PeerRequest vets a request the peer sent us. Out of range requests drop
// the peer; requests for pieces we lack, or while we choke the peer (except
// for pieces granted with GrantAllowedFast), are rejected (fast extension)
// or ignored.
func (t *Torrent) PeerRequest(id PeerID, piece, begin, length uint32) RequestVerdict {
	p := t.lookup(id)
	if p == nil {
		return RequestIgnore
	}
	if int(piece) >= t.n || length == 0 || length > MaxBlockLen ||
		int64(begin)+int64(length) > t.PieceLen(piece) {
		t.drop(p, ReasonBadIndex, false)
		return RequestViolation
	}
	if !t.have.has(piece) || p.amChoking && !slices.Contains(p.granted, piece) {
		if p.fast {
			return RequestReject
		}
		return RequestIgnore
	}
	return RequestServe
}

// Uploaded records n payload bytes sent to the peer (for the upload rate
// the seeding choker ranks by).
func (t *Torrent) Uploaded(id PeerID, n int) {
	p := t.lookup(id)
	if p == nil || n <= 0 {
		return
	}
	p.up.add(int64(n))
	p.uploaded += int64(n)
	t.up.add(int64(n))
	t.uploaded += int64(n)
}

// GrantAllowedFast records that we sent the peer ALLOWED FAST for piece (BEP
// 6; the canonical set is peerwire.AllowedFastSet): PeerRequest serves it
// even while we choke the peer. Pieces out of range, peers without the fast
// extension and grants beyond 32 per peer are ignored.
func (t *Torrent) GrantAllowedFast(id PeerID, piece uint32) {
	p := t.lookup(id)
	if p == nil || !p.fast || int(piece) >= t.n || len(p.granted) >= maxAllowedFast ||
		slices.Contains(p.granted, piece) {
		return
	}
	p.granted = append(p.granted, piece)
}
