package core

import (
	"fmt"
	"time"
)

// checkInvariants verifies the core's internal consistency: availability
// matches the live peers' bitfields, every piece is in exactly the list its
// state says, records agree with their blocks, outstanding requests are
// for pieces the peer has and are recorded on the block, interest counts
// are exact. It is the oracle of the unit, swarm and fuzz tests.
func (t *Torrent) checkInvariants() error {
	avail := make([]uint32, t.n)
	seeds := 0
	for _, p := range t.live {
		if p.seedCounted {
			seeds++
			if p.npieces != t.n {
				return fmt.Errorf("%v counted as a seed with %d pieces", p.id, p.npieces)
			}
		}
		if p.closing || !p.live {
			return fmt.Errorf("%v in live list but closing=%v live=%v", p.id, p.closing, p.live)
		}
		cnt, interesting := 0, 0
		for i := range t.n {
			if p.bits.has(uint32(i)) {
				if !p.seedCounted {
					avail[i]++
				}
				cnt++
				if t.need.has(uint32(i)) {
					interesting++
				}
			}
		}
		if cnt != p.npieces {
			return fmt.Errorf("%v npieces %d, bitfield has %d", p.id, p.npieces, cnt)
		}
		if interesting != p.interesting {
			return fmt.Errorf("%v interesting %d, want %d", p.id, p.interesting, interesting)
		}
		if p.amInterested != (interesting > 0) {
			return fmt.Errorf("%v amInterested %v with %d interesting", p.id, p.amInterested, interesting)
		}
		if p.outstanding() > 0 && p.peerChoking && !p.fast {
			return fmt.Errorf("%v has %d outstanding while choked without fast", p.id, p.outstanding())
		}
		seen := map[reqRef]bool{}
		for _, o := range p.out[p.outHead:] {
			r := o.ref
			if seen[r] {
				return fmt.Errorf("%v requested %v twice", p.id, r)
			}
			seen[r] = true
			if !p.bits.has(r.piece) {
				return fmt.Errorf("%v outstanding request for piece %d it does not have", p.id, r.piece)
			}
			k := t.rec[r.piece]
			if k < 0 {
				return fmt.Errorf("%v outstanding request %v for piece without record", p.id, r)
			}
			b := &t.recs[k].blocks[r.block]
			if b.state != blkRequested || !b.requestedBy(p.id) {
				return fmt.Errorf("%v outstanding %v but block state %d req %v", p.id, r, b.state, b.req[:b.nreq])
			}
		}
	}
	if seeds != t.seeds {
		return fmt.Errorf("seeds %d, want %d", t.seeds, seeds)
	}
	for i := range t.n {
		if avail[i] != t.avail[i] {
			return fmt.Errorf("piece %d availability %d, want %d", i, t.avail[i], avail[i])
		}
		if t.need.has(uint32(i)) != (t.want.has(uint32(i)) && !t.have.has(uint32(i))) {
			return fmt.Errorf("piece %d need bit wrong", i)
		}
	}
	unchoked, unchokingUs := 0, 0
	for _, p := range t.live {
		if !p.amChoking {
			unchoked++
		}
		if !p.peerChoking {
			unchokingUs++
		}
		if p.optimistic != (t.optimistic == p) {
			return fmt.Errorf("%v optimistic flag %v, torrent's optimistic %v", p.id, p.optimistic, t.optimistic == p)
		}
	}
	if unchoked != t.nUnchoked {
		return fmt.Errorf("nUnchoked %d, want %d", t.nUnchoked, unchoked)
	}
	if unchokingUs != t.unchokingUs {
		return fmt.Errorf("unchokingUs %d, want %d", t.unchokingUs, unchokingUs)
	}
	inList := make([]int, t.n)
	for pr := range t.tiers {
		tr := &t.tiers[pr]
		fresh := 0
		for a, b := range tr.buckets {
			for k, i := range b {
				inList[i]++
				if t.state[i] != stFresh || int(t.avail[i]) != a || t.pos[i] != uint32(k) || int(t.prio[i]) != pr {
					return fmt.Errorf("piece %d in bucket %d of priority %d at %d: state %d avail %d pos %d priority %d",
						i, a, pr, k, t.state[i], t.avail[i], t.pos[i], t.prio[i])
				}
				if a >= 1 {
					fresh++
					if a < tr.lowest {
						return fmt.Errorf("piece %d in bucket %d below lowest %d", i, a, tr.lowest)
					}
				}
			}
		}
		if fresh != tr.pickable {
			return fmt.Errorf("priority %d: pickable %d, want %d", pr, tr.pickable, fresh)
		}
	}
	for name, l := range map[string][]uint32{"partial": t.partial, "owned": t.owned, "full": t.full} {
		want := stPartial
		if name == "full" {
			want = stFull
		}
		for k, i := range l {
			inList[i]++
			if t.state[i] != want || t.pos[i] != uint32(k) {
				return fmt.Errorf("piece %d in %s at %d: state %d pos %d", i, name, k, t.state[i], t.pos[i])
			}
			r := &t.recs[t.rec[i]]
			if r.owned != (name == "owned") {
				return fmt.Errorf("piece %d in %s list with owned=%v", i, name, r.owned)
			}
			if r.owned {
				if o := t.lookup(r.owner); o == nil || o.cur != int64(i) {
					return fmt.Errorf("piece %d owned by %v, which is gone or on another piece", i, r.owner)
				}
			}
		}
	}
	reqs := 0
	for i := range t.n {
		st := t.state[i]
		inl := st == stFresh || st == stPartial || st == stFull
		if (inList[i] == 1) != inl || inList[i] > 1 {
			return fmt.Errorf("piece %d state %d in %d lists", i, st, inList[i])
		}
		hasRec := st == stPartial || st == stFull || st == stHashing
		if (t.rec[i] >= 0) != hasRec {
			return fmt.Errorf("piece %d state %d rec %d", i, st, t.rec[i])
		}
		if (st == stHave) != t.have.has(uint32(i)) {
			return fmt.Errorf("piece %d state %d have bit %v", i, st, t.have.has(uint32(i)))
		}
		if st == stFresh && !t.want.has(uint32(i)) {
			return fmt.Errorf("piece %d fresh but unwanted", i)
		}
		if !hasRec {
			continue
		}
		r := &t.recs[t.rec[i]]
		if len(r.blocks) != t.numBlocks(uint32(i)) {
			return fmt.Errorf("piece %d record has %d blocks", i, len(r.blocks))
		}
		free, recv := 0, 0
		for b := range r.blocks {
			blk := &r.blocks[b]
			switch blk.state {
			case blkFree:
				free++
				if b < r.hint {
					return fmt.Errorf("piece %d free block %d below hint %d", i, b, r.hint)
				}
				if blk.nreq != 0 {
					return fmt.Errorf("piece %d free block %d has requesters", i, b)
				}
			case blkReceived:
				recv++
			case blkRequested:
				limit := t.cfg.EndgameDuplicates
				if t.duplicated > 0 { // the head of a deadline queue may have had more
					limit = max(limit, urgentDuplicates)
				}
				if blk.nreq == 0 || int(blk.nreq) > limit {
					return fmt.Errorf("piece %d block %d has %d requesters", i, b, blk.nreq)
				}
				for _, q := range blk.req[:blk.nreq] {
					qp := t.lookup(q)
					if qp == nil {
						return fmt.Errorf("piece %d block %d requested from gone %v", i, b, q)
					}
					found := false
					for _, o := range qp.out[qp.outHead:] {
						if o.ref == (reqRef{uint32(i), uint32(b)}) {
							found = true
						}
					}
					if !found {
						return fmt.Errorf("piece %d block %d: %v lacks the request", i, b, q)
					}
					reqs++
				}
			}
		}
		if free != r.nfree || recv != r.nrecv {
			return fmt.Errorf("piece %d nfree %d/%d nrecv %d/%d", i, r.nfree, free, r.nrecv, recv)
		}
		switch {
		case st == stPartial && (free == 0 || free == len(r.blocks)):
			return fmt.Errorf("piece %d partial with %d free of %d", i, free, len(r.blocks))
		case st == stFull && (free != 0 || recv == len(r.blocks)):
			return fmt.Errorf("piece %d full with %d free %d received", i, free, recv)
		case st == stHashing && recv != len(r.blocks):
			return fmt.Errorf("piece %d hashing with %d received", i, recv)
		}
	}
	total := 0
	for _, p := range t.live {
		total += p.outstanding()
	}
	if total != reqs {
		return fmt.Errorf("%d outstanding requests, %d recorded on blocks", total, reqs)
	}
	if len(t.recs)-len(t.freeRecs) != len(t.partial)+len(t.owned)+len(t.full)+t.countState(stHashing) {
		return fmt.Errorf("record leak: %d in use", len(t.recs)-len(t.freeRecs))
	}
	return t.checkDeadlines()
}

// checkDeadlines verifies the readers' state: the window marks are the
// union of the windows, wanted pieces are the selection plus the windows,
// and the deadline queue holds every unverified window piece once, at its
// earliest deadline over the readers, in deadline order.
func (t *Torrent) checkDeadlines() error {
	if len(t.readers) > MaxReaders {
		return fmt.Errorf("%d readers", len(t.readers))
	}
	inWin := make([]bool, t.n)
	due := make(map[uint32]time.Duration)
	ids := map[ReaderID]bool{}
	for k := range t.readers {
		r := &t.readers[k]
		if ids[r.id] {
			return fmt.Errorf("reader %d twice", r.id)
		}
		ids[r.id] = true
		if r.last >= r.first && (r.first < 0 || r.last >= t.n || r.last-r.first >= MaxWindow) {
			return fmt.Errorf("reader %d window [%d, %d]", r.id, r.first, r.last)
		}
		if r.rate <= 0 {
			return fmt.Errorf("reader %d rate %v", r.id, r.rate)
		}
		for i := r.first; i <= r.last; i++ {
			inWin[i] = true
			at := t.deadline(r, i)
			if d, ok := due[uint32(i)]; !ok || at < d {
				due[uint32(i)] = at
			}
		}
	}
	for i := range t.n {
		u := uint32(i)
		if t.dl.has(u) != inWin[i] {
			return fmt.Errorf("piece %d window mark %v, in a window %v", i, t.dl.has(u), inWin[i])
		}
		if t.want.has(u) != (t.wantSet.has(u) || inWin[i]) {
			return fmt.Errorf("piece %d wanted %v, selected %v, in a window %v", i, t.want.has(u), t.wantSet.has(u), inWin[i])
		}
		if t.seen.has(u) {
			return fmt.Errorf("piece %d left in the merge scratch", i)
		}
	}
	if t.dqStart > len(t.dq) {
		return fmt.Errorf("deadline queue start %d of %d", t.dqStart, len(t.dq))
	}
	queued := map[uint32]bool{}
	for k, e := range t.dq {
		if queued[e.piece] {
			return fmt.Errorf("piece %d twice in the deadline queue", e.piece)
		}
		queued[e.piece] = true
		if k < t.dqStart && !t.have.has(e.piece) {
			return fmt.Errorf("piece %d before the queue start but not verified", e.piece)
		}
		if d, ok := due[e.piece]; !ok || d != e.at {
			return fmt.Errorf("piece %d queued due %v, its windows say %v (%v)", e.piece, e.at, d, ok)
		}
		if k > 0 {
			prev := t.dq[k-1]
			if prev.at > e.at || prev.at == e.at && prev.piece > e.piece {
				return fmt.Errorf("deadline queue out of order at %d", k)
			}
		}
	}
	for i := range due {
		if !t.have.has(i) && !queued[i] {
			return fmt.Errorf("window piece %d not verified and not queued", i)
		}
	}
	return nil
}

func (t *Torrent) countState(s uint8) int {
	n := 0
	for _, st := range t.state {
		if st == s {
			n++
		}
	}
	return n
}
