package core

import (
	"testing"
	"time"
)

// Six interested peers send us data at different rates: after a rechoke
// the four fastest hold the regular slots.
func TestChokerTitForTat(t *testing.T) {
	x := newH(t, Config{NumPieces: 512, MaxRequests: 64})
	var ids []PeerID
	for range 6 {
		id := x.seedPeer(true)
		x.PeerInterested(id)
		ids = append(ids, id)
	}
	b := x.ready()
	pending := map[PeerID][]Message{}
	unchoked := map[PeerID]bool{}
	for _, id := range ids {
		pending[id] = b.kind(id, MsgRequest)
		unchoked[id] = b.has(id, MsgUnchoke)
	}
	for i := 0; i < 4; i++ {
		if !unchoked[ids[i]] {
			t.Fatalf("first four interested peers not unchoked at once: %v", unchoked)
		}
	}
	// Peer i delivers i+1 blocks a second; rechoke after 10 s.
	for range 10 {
		for i, id := range ids {
			n := min(i+1, len(pending[id]))
			nb := x.deliver(pending[id][:n])
			pending[id] = pending[id][n:]
			for _, h := range nb.hash {
				x.PieceHashed(h, true)
			}
			for _, id2 := range ids {
				pending[id2] = append(pending[id2], nb.kind(id2, MsgRequest)...)
			}
		}
		nb := x.tick(time.Second)
		for _, id2 := range ids {
			pending[id2] = append(pending[id2], nb.kind(id2, MsgRequest)...)
		}
	}
	for i, id := range ids {
		ps, _ := x.PeerStats(id)
		if i >= 2 && ps.AmChoking {
			t.Errorf("peer %d (rate %.0f) choked", i, ps.DownloadRate)
		}
		if i < 2 && !ps.AmChoking && !ps.Optimistic {
			t.Errorf("slow peer %d holds a regular slot", i)
		}
	}
}

// The optimistic unchoke stays put for OptimisticInterval, then moves.
func TestOptimisticRotation(t *testing.T) {
	x := newH(t, Config{NumPieces: 8, UnchokeSlots: 1})
	var ids []PeerID
	for range 8 {
		id := x.PeerConnected(Caps{})
		x.PeerInterested(id)
		ids = append(ids, id)
	}
	x.ready()
	optimistic := func() PeerID {
		var o PeerID
		n := 0
		for _, id := range ids {
			if ps, _ := x.PeerStats(id); ps.Optimistic {
				o = id
				n++
				if ps.AmChoking {
					t.Fatalf("optimistic peer %v choked", id)
				}
			}
		}
		if n > 1 {
			t.Fatalf("%d optimistic peers", n)
		}
		return o
	}
	var seen []PeerID
	for s := 1; s <= 300; s++ {
		x.tick(time.Second)
		o := optimistic()
		if o == NoPeer {
			t.Fatalf("no optimistic unchoke at %ds", s)
		}
		if len(seen) == 0 || seen[len(seen)-1] != o {
			if len(seen) > 0 && s%30 != 0 {
				t.Fatalf("optimistic moved at %ds, not on a 30 s boundary", s)
			}
			seen = append(seen, o)
		}
		unchoked := 0
		for _, id := range ids {
			if ps, _ := x.PeerStats(id); !ps.AmChoking {
				unchoked++
			}
		}
		if unchoked > 2 {
			t.Fatalf("%d peers unchoked with 1 regular slot + 1 optimistic", unchoked)
		}
	}
	if len(seen) < 5 {
		t.Fatalf("optimistic unchoke moved only %d times in 300 s", len(seen)-1)
	}
}

// Seeding, every interested peer gets a turn even when the first ones keep
// downloading.
func TestSeedingRoundRobin(t *testing.T) {
	x := newH(t, Config{NumPieces: 4, UnchokeSlots: 2})
	for i := range uint32(4) {
		x.SetHave(i)
	}
	var ids []PeerID
	for range 6 {
		id := x.PeerConnected(Caps{})
		x.PeerBitfield(id, bitfieldOf(4))
		x.PeerInterested(id)
		ids = append(ids, id)
	}
	x.ready()
	served := map[PeerID]bool{}
	for s := 0; s < 120; s++ {
		for _, id := range ids {
			if ps, _ := x.PeerStats(id); !ps.AmChoking {
				served[id] = true
				x.Uploaded(id, 1<<20) // the unchoked peers keep the link busy
			}
		}
		x.tick(time.Second)
	}
	if len(served) != len(ids) {
		t.Fatalf("%d of %d interested peers served in 120 s", len(served), len(ids))
	}
}
