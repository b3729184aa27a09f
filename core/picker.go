package core

import "math/bits"

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }
func leadingZeros8(x byte) int   { return bits.LeadingZeros8(x) }

// The picker keeps fresh pieces (wanted, nothing requested) in buckets by
// priority and availability, ties in random order. A change of
// availability moves one piece between adjacent buckets in O(1) and
// nothing is ever re-sorted; pieces with requests in flight live in the
// partial or full lists.

// tier is the fresh pieces of one priority, in buckets by availability.
type tier struct {
	buckets  [][]uint32 // by availability (seeds not counted), ties in random order
	lowest   int        // no non-empty bucket in [1, lowest)
	pickable int        // pieces in buckets[1:]
}

func (t *Torrent) bucketAdd(i uint32) {
	tr := &t.tiers[t.prio[i]]
	a := int(t.avail[i])
	for a >= len(tr.buckets) {
		tr.buckets = append(tr.buckets, nil)
	}
	b := append(tr.buckets[a], i)
	last := len(b) - 1
	j := last
	if last > 0 {
		j = t.rng.IntN(last + 1)
	}
	b[last] = b[j]
	t.pos[b[last]] = uint32(last)
	b[j] = i
	t.pos[i] = uint32(j)
	tr.buckets[a] = b
	if a >= 1 {
		tr.pickable++
		if a < tr.lowest {
			tr.lowest = a
		}
	}
}

func (t *Torrent) bucketRemove(i uint32) {
	tr := &t.tiers[t.prio[i]]
	a := t.avail[i]
	b := tr.buckets[a]
	k := t.pos[i]
	last := uint32(len(b) - 1)
	b[k] = b[last]
	t.pos[b[k]] = k
	tr.buckets[a] = b[:last]
	if a >= 1 {
		tr.pickable--
	}
}

// pickableFresh counts fresh pieces some peer has.
func (t *Torrent) pickableFresh() int {
	n := 0
	for k := range t.tiers {
		tr := &t.tiers[k]
		n += tr.pickable
		if t.seeds > 0 && len(tr.buckets) > 0 {
			n += len(tr.buckets[0])
		}
	}
	return n
}

func (t *Torrent) availInc(i uint32) {
	if t.state[i] == stFresh {
		t.bucketRemove(i)
		t.avail[i]++
		t.bucketAdd(i)
		return
	}
	t.avail[i]++
}

func (t *Torrent) availDec(i uint32) {
	if t.state[i] == stFresh {
		t.bucketRemove(i)
		t.avail[i]--
		t.bucketAdd(i)
		return
	}
	t.avail[i]--
}

// listAdd and listRemove maintain the partial and full lists (swap-remove;
// order does not matter).
func (t *Torrent) listAdd(l *[]uint32, i uint32) {
	t.pos[i] = uint32(len(*l))
	*l = append(*l, i)
}

func (t *Torrent) listRemove(l *[]uint32, i uint32) {
	s := *l
	k := t.pos[i]
	last := uint32(len(s) - 1)
	s[k] = s[last]
	t.pos[s[k]] = k
	*l = s[:last]
}

// fill requests blocks from p until its pipeline is full or nothing is left
// to pick for it. A failed pick is remembered until the pool changes (epoch)
// or the peer does (stuck is cleared), so idle peers cost nothing.
func (t *Torrent) fill(p *peer) {
	if p.closing || !p.live || !p.amInterested {
		return
	}
	for p.outstanding() < p.target {
		if p.stuck && p.stuckEpoch == t.epoch {
			return
		}
		if !t.pickOne(p) {
			if t.endgame && p.outstanding() > 0 {
				return // retried when a block arrives
			}
			p.stuck = true
			p.stuckEpoch = t.epoch
			if !p.inStuck {
				p.inStuck = true
				t.stuckList = append(t.stuckList, p)
			}
			return
		}
	}
}

// pickOne requests one block from p. Order: allowed-fast pieces while
// choked; the peer's current piece; suggested pieces; orphaned partial
// pieces (nobody is finishing them); a fresh piece (random while fewer than
// RandomFirst pieces are verified, then rarest first); other peers' current
// pieces; end game duplicates. Leaving other peers' current pieces to them
// keeps rarest first effective (a leecher does not fetch from the seeder a
// piece another leecher is already bringing) and makes most pieces come
// from one peer, which makes blame for bad data exact.
func (t *Torrent) pickOne(p *peer) bool {
	if p.peerChoking {
		if !p.fast {
			return false
		}
		for _, f := range p.fastSet {
			if t.takeFrom(p, f, false) {
				return true
			}
		}
		return false
	}
	// Pieces with a deadline come first and only through pickDeadline,
	// whose rules decide which peers may take them.
	if t.dqStart < len(t.dq) && t.pickDeadline(p) {
		return true
	}
	if p.cur >= 0 && !t.dl.has(uint32(p.cur)) && t.takeFrom(p, uint32(p.cur), true) {
		return true
	}
	for len(p.suggest) > 0 {
		s := p.suggest[0]
		if !t.dl.has(s) && t.takeFrom(p, s, true) {
			return true
		}
		p.suggest = append(p.suggest[:0], p.suggest[1:]...)
	}
	for _, i := range t.partial {
		if p.bits.has(i) && !t.dl.has(i) {
			return t.takeFrom(p, i, true)
		}
	}
	if i, ok := t.pickFresh(p); ok {
		return t.takeFrom(p, i, true)
	}
	helpable := 0
	for _, i := range t.owned {
		if t.suspect.has(i) || t.dl.has(i) {
			continue // left to its owner alone, or to pickDeadline
		}
		helpable++
		if p.bits.has(i) {
			return t.takeFrom(p, i, false)
		}
	}
	if len(t.partial) == 0 && helpable == 0 && t.pickableFresh() == 0 && len(t.full) > 0 {
		if !t.endgame {
			// Entering end game: peers that failed a pick may now
			// duplicate requests.
			t.endgame = true
			t.epoch++
			for _, q := range t.live {
				t.markDirty(q)
			}
			p.stuck = false
		}
		return t.pickEndgame(p)
	}
	return false
}

// setCur makes piece i (or none, -1) p's current piece. The piece p leaves
// becomes an orphan that any peer may finish; a partial piece p takes up is
// owned by p: other peers leave its free blocks to p until they run out of
// other work.
func (t *Torrent) setCur(p *peer, i int64) {
	if old := p.cur; old != i && old >= 0 && t.state[old] == stPartial {
		if r := &t.recs[t.rec[old]]; r.owned && r.owner == p.id {
			t.listRemove(&t.owned, uint32(old))
			r.owned = false
			t.listAdd(&t.partial, uint32(old))
			t.bump() // peers that were left without work may take it
		}
	}
	p.cur = i
	if i >= 0 && t.state[i] == stPartial && !p.snubbed { // a snubbed peer holds no claim
		r := &t.recs[t.rec[i]]
		if !r.owned {
			t.listRemove(&t.partial, uint32(i))
			r.owned = true
			t.listAdd(&t.owned, uint32(i))
		}
		r.owner = p.id
	}
}

// partialList returns the list a partial piece is in.
func (t *Torrent) partialList(i uint32) *[]uint32 {
	if t.recs[t.rec[i]].owned {
		return &t.owned
	}
	return &t.partial
}

// pickFresh chooses a fresh piece the peer has: of the highest priority
// that has one, random among the first pieces, then rarest first.
func (t *Torrent) pickFresh(p *peer) (uint32, bool) {
	if t.pickableFresh() == 0 {
		return 0, false
	}
	for k := len(t.tiers) - 1; k >= 0; k-- {
		if i, ok := t.pickTier(p, &t.tiers[k], Priority(k)); ok {
			return i, true
		}
	}
	return 0, false
}

func (t *Torrent) pickTier(p *peer, tr *tier, prio Priority) (uint32, bool) {
	if t.haveCount < t.cfg.RandomFirst && tr.pickable+len(tr.buckets[0]) > 0 {
		for range 32 {
			i := uint32(t.rng.IntN(t.n))
			if t.state[i] == stFresh && Priority(t.prio[i]) == prio && p.bits.has(i) && !t.dl.has(i) {
				return i, true
			}
		}
	}
	// Pieces only seeds have are the rarest; only a seed has them.
	if p.seedCounted {
		for _, i := range tr.buckets[0] {
			if !t.dl.has(i) {
				return i, true
			}
		}
	}
	for a := tr.lowest; a < len(tr.buckets); a++ {
		b := tr.buckets[a]
		if len(b) == 0 {
			if a == tr.lowest {
				tr.lowest++
			}
			continue
		}
		for _, i := range b {
			if p.bits.has(i) && !t.dl.has(i) {
				return i, true
			}
		}
	}
	return 0, false
}

// takeFrom requests the next free block of piece i from p, if p has the
// piece and it has a free block. With own, i becomes p's current piece.
func (t *Torrent) takeFrom(p *peer, i uint32, own bool) bool {
	if int(i) >= t.n || !p.bits.has(i) {
		return false
	}
	switch t.state[i] {
	case stFresh:
		t.bucketRemove(i)
		t.newRecord(i)
		t.state[i] = stPartial
		t.listAdd(&t.partial, i)
	case stPartial:
		// A piece that failed verification is fetched from one peer, so
		// a second failure names the culprit.
		if r := &t.recs[t.rec[i]]; t.suspect.has(i) && (!own || r.owned && r.owner != p.id) {
			return false
		}
	default:
		return false
	}
	if own {
		t.setCur(p, int64(i))
	}
	r := &t.recs[t.rec[i]]
	b := r.hint
	for r.blocks[b].state != blkFree {
		b++
	}
	r.hint = b + 1
	blk := &r.blocks[b]
	blk.state = blkRequested
	blk.req[0] = p.id
	blk.nreq = 1
	blk.eta = t.eta(p)
	r.nfree--
	if r.nfree == 0 {
		t.listRemove(t.partialList(i), i)
		r.owned = false
		t.state[i] = stFull
		t.listAdd(&t.full, i)
	}
	t.request(p, i, b)
	return true
}

func (t *Torrent) request(p *peer, i uint32, b int) {
	if p.outstanding() == 0 {
		p.lastProgress = t.now
	}
	p.pushOut(outReq{ref: reqRef{piece: i, block: uint32(b)}, at: t.now})
	t.emit(p, MsgRequest, i, uint32(b)*BlockSize, t.blockLen(i, b))
}

// endgamePipeline caps a peer's requests in flight while it makes end game
// duplicates: only peers that have nearly run dry duplicate, one or two
// blocks at a time. In a simulated 20-leecher swarm this halves the bytes
// wasted on duplicates (5.6% to 2.6%) at no cost in completion time.
const endgamePipeline = 2

// pickEndgame duplicates a request already in flight to another peer, at
// most EndgameDuplicates requesters per block. The scan resumes where the
// peer's last one stopped.
func (t *Torrent) pickEndgame(p *peer) bool {
	if p.outstanding() >= endgamePipeline {
		return false
	}
	nf := len(t.full)
	for k := 0; k < nf; k++ {
		idx := (p.egCursor + k) % nf
		i := t.full[idx]
		if !p.bits.has(i) || t.suspect.has(i) {
			continue
		}
		r := &t.recs[t.rec[i]]
		for b := range r.blocks {
			blk := &r.blocks[b]
			if blk.state != blkRequested || int(blk.nreq) >= t.cfg.EndgameDuplicates || blk.requestedBy(p.id) {
				continue
			}
			blk.req[blk.nreq] = p.id
			blk.nreq++
			p.egCursor = idx
			t.request(p, i, b)
			return true
		}
	}
	return false
}
