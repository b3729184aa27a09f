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
	heard       bool // the peer has sent a message (not counting keep-alives)
	chatter     int  // messages that moved nothing forward since the last Tick
	sawOther    bool // a HAVE or a block came (no first availability message after it)
	interesting int  // pieces it has that we need

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
	idle         time.Duration // Tick intervals in a row with requests out and no block
	hadOut       bool          // requests were out at the last Tick

	cur        int64    // piece being downloaded from this peer, -1 if none
	fastSet    []uint32 // pieces the peer allows us while it chokes us
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

// from is lookup for an event that came from the peer: it notes that the
// peer has said something (see Evictable).
func (t *Torrent) from(id PeerID) *peer {
	p := t.lookup(id)
	if p != nil {
		p.heard = true
	}
	return p
}

// chat counts a message from p that moves nothing forward; false (and p
// is dropped) when it is one too many for this Tick.
func (t *Torrent) chat(p *peer) bool {
	p.chatter++
	if p.chatter > t.cfg.MaxChatter {
		t.drop(p, ReasonFlood, false)
		return false
	}
	return true
}

// Evictable names the connected peer least worth keeping, for a shell at
// its peer limit that has a new peer wanting a slot (libtorrent evicts by
// usefulness the same way), or NoPeer when every peer is worth its slot:
// first one that has sent nothing at all (the core never sees keep-alives)
// in the SilentGrace since it connected, then one connected for IdleGrace
// that is neither interested in us nor interesting to us; the longest
// connected first.
func (t *Torrent) Evictable() PeerID {
	var silent, idle *peer
	for _, p := range t.live {
		age := t.now - p.connectedAt
		switch {
		case !p.heard && age >= t.cfg.SilentGrace:
			if silent == nil || p.connectedAt < silent.connectedAt {
				silent = p
			}
		case age >= t.cfg.IdleGrace && !p.amInterested && !p.peerInterested:
			if idle == nil || p.connectedAt < idle.connectedAt {
				idle = p
			}
		}
	}
	switch {
	case silent != nil:
		return silent.id
	case idle != nil:
		return idle.id
	}
	return NoPeer
}

// PeerConnected registers a peer whose handshake completed and returns its
// handle; its greeting (our availability, allowed fast grants) is in the
// next Ready, before any other message to it. It returns NoPeer when
// 65,535 peers are already registered.
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
	t.greet(p, caps.AvailSent, caps.AllowedFast)
	return p.id
}

// PeerReqQ records the "reqq" of the peer's BEP 10 handshake, which may
// arrive after PeerConnected.
func (t *Torrent) PeerReqQ(id PeerID, reqq int) {
	if p := t.from(id); p != nil {
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
	if !p.peerChoking {
		t.unchokingUs--
	}
}

// PeerChoke records that the peer choked us. Without the fast extension the
// peer discards our requests, so they return to the pool; with it, the peer
// rejects them explicitly (PeerReject) and allowed-fast requests go on.
func (t *Torrent) PeerChoke(id PeerID) {
	p := t.from(id)
	if p == nil || !t.chat(p) || p.peerChoking {
		return
	}
	p.peerChoking = true
	t.unchokingUs--
	t.setCur(p, -1) // others may finish its piece
	if !p.fast {
		t.releaseAll(p, false)
	}
}

// PeerUnchoke records that the peer unchoked us; requests follow in Ready.
func (t *Torrent) PeerUnchoke(id PeerID) {
	p := t.from(id)
	if p == nil || !t.chat(p) || !p.peerChoking {
		return
	}
	p.peerChoking = false
	t.unchokingUs++
	p.stuck = false
	if p.outstanding() == 0 {
		p.lastProgress = t.now
	}
	t.markDirty(p)
}

// PeerInterested records that the peer is interested in us. If a regular
// unchoke slot, or the optimistic one, is free it is unchoked at once.
func (t *Torrent) PeerInterested(id PeerID) {
	p := t.from(id)
	if p == nil || !t.chat(p) || p.peerInterested {
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
	if p := t.from(id); p != nil && t.chat(p) {
		p.peerInterested = false
	}
}

// PeerAllowedFast records a BEP 6 ALLOWED FAST: we may request blocks of
// the piece while the peer chokes us. Out of range drops the peer; without
// the fast extension it is a protocol violation.
func (t *Torrent) PeerAllowedFast(id PeerID, piece uint32) {
	p := t.from(id)
	if p == nil || !t.chat(p) {
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
	if slices.Contains(p.fastSet, piece) {
		return
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
	p := t.from(id)
	if p == nil || !t.chat(p) {
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
