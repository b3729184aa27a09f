package core

import (
	"cmp"
	"slices"
	"time"
)

func (t *Torrent) unchoke(p *peer) {
	if !p.amChoking {
		return
	}
	p.amChoking = false
	t.nUnchoked++
	p.unchokedAt = t.now
	t.emit(p, MsgUnchoke, 0, 0, 0)
}

func (t *Torrent) choke(p *peer) {
	if p.amChoking {
		return
	}
	p.amChoking = true
	t.nUnchoked--
	p.optimistic = false
	p.chokedAt = t.now
	t.emit(p, MsgChoke, 0, 0, 0)
}

// regularUnchoked counts peers we unchoke, not counting the optimistic
// unchoke, in O(1): interest floods must not cost a scan of all peers.
func (t *Torrent) regularUnchoked() int {
	n := t.nUnchoked
	if t.optimistic != nil && !t.optimistic.amChoking {
		n--
	}
	return n
}

// rechoke re-ranks interested peers and gives the regular slots to the best.
// Leeching, the best are those we download from fastest (tit-for-tat;
// snubbed peers are not eligible). Seeding, peers within their turn rank by
// our upload rate to them, then peers that waited longest, then peers past
// their turn, so every interested peer is served in rotation. The
// optimistic slot moves every OptimisticInterval to a random choked
// interested peer, new peers three times as likely.
func (t *Torrent) rechoke() {
	now := t.now
	seeding := t.Complete()
	c := t.scratch[:0]
	for _, p := range t.live {
		if p.peerInterested && !(p.snubbed && !seeding) {
			c = append(c, p)
		}
	}
	if seeding {
		turn := t.cfg.SeedTurn
		group := func(p *peer) int {
			switch {
			case !p.amChoking && now-p.unchokedAt < turn:
				return 0
			case p.amChoking:
				return 1
			}
			return 2
		}
		slices.SortStableFunc(c, func(a, b *peer) int {
			ga, gb := group(a), group(b)
			if ga != gb {
				return ga - gb
			}
			if ga == 1 {
				return cmp.Compare(a.chokedAt, b.chokedAt)
			}
			return cmp.Compare(b.up.bps, a.up.bps)
		})
	} else {
		slices.SortStableFunc(c, func(a, b *peer) int {
			return cmp.Compare(b.down.bps, a.down.bps)
		})
	}
	n := min(t.cfg.UnchokeSlots, len(c))
	regular := c[:n]
	for _, p := range regular {
		p.optimistic = false
	}
	if t.optimistic != nil && (t.optimistic.closing || !t.optimistic.optimistic) {
		t.optimistic = nil
	}
	if now >= t.nextOptim || t.optimistic == nil {
		t.pickOptimistic(regular, now)
	}
	for _, p := range t.live {
		keep := p == t.optimistic
		if !keep {
			for _, r := range regular {
				if r == p {
					keep = true
					break
				}
			}
		}
		if keep {
			t.unchoke(p)
		} else {
			t.choke(p)
		}
	}
	t.scratch = c[:0]
}

func (t *Torrent) pickOptimistic(regular []*peer, now time.Duration) {
	t.nextOptim = now + t.cfg.OptimisticInterval
	if t.optimistic != nil {
		t.optimistic.optimistic = false
		t.optimistic = nil
	}
	total := 0
	weight := func(p *peer) int {
		if !p.peerInterested || slices.Contains(regular, p) {
			return 0
		}
		if now-p.connectedAt < 2*t.cfg.OptimisticInterval {
			return 3
		}
		return 1
	}
	for _, p := range t.live {
		total += weight(p)
	}
	if total == 0 {
		return
	}
	x := t.rng.IntN(total)
	for _, p := range t.live {
		x -= weight(p)
		if x < 0 {
			p.optimistic = true
			t.optimistic = p
			return
		}
	}
}
