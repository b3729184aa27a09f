package metadata

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestNewFetcherConfig(t *testing.T) {
	for _, cfg := range []Config{{MaxInFlight: -1}, {MaxInFlight: 17}, {RequestTimeout: -1}, {MaxBackoff: -time.Second}} {
		if _, err := NewFetcher(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	f, err := NewFetcher(Config{})
	if err != nil || f.cfg.MaxInFlight != 2 || f.cfg.RequestTimeout != 15*time.Second ||
		f.cfg.RejectBackoff != time.Minute || f.cfg.MaxBackoff != 5*time.Minute {
		t.Fatalf("defaults: %+v %v", f.cfg, err)
	}
}

// One honest peer: requests go out two at a time, in order, and the
// verified bytes come back once.
func TestFetchOnePeer(t *testing.T) {
	info, ih := testInfo(3*PieceSize+100, 1)
	x := newFx(t, Config{InfoHash: ih})
	a := x.AddPeer(len(info))
	if x.Size() != len(info) {
		t.Fatalf("size %d", x.Size())
	}
	b := x.ready()
	if got := b.to(a); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("first requests %v", got)
	}
	x.Data(a, 0, len(info), pieceOf(info, 0))
	if got := x.ready().to(a); !slices.Equal(got, []int{2}) {
		t.Fatalf("after piece 0: %v", got)
	}
	x.Data(a, 2, len(info), pieceOf(info, 2))
	x.Data(a, 1, len(info), pieceOf(info, 1))
	if got := x.ready().to(a); !slices.Equal(got, []int{3}) {
		t.Fatalf("then %v", got)
	}
	if have, total := x.Progress(); have != 3 || total != 4 {
		t.Fatalf("progress %d/%d", have, total)
	}
	x.Data(a, 3, len(info), pieceOf(info, 3))
	b = x.ready()
	if !bytes.Equal(b.info, info) || !x.Done() || !bytes.Equal(x.Info(), info) || len(b.drops) != 0 {
		t.Fatalf("done %v, info %d bytes, drops %v", x.Done(), len(b.info), b.drops)
	}
	if x.ready().info != nil {
		t.Fatal("info handed out twice")
	}
	// Done: everything is ignored.
	if x.AddPeer(len(info)) != NoPeer {
		t.Fatal("AddPeer after done")
	}
	x.Data(a, 0, len(info), pieceOf(info, 0))
	x.Reject(a, 0)
	x.advance(time.Hour)
	if b := x.ready(); len(b.reqs)+len(b.drops) != 0 {
		t.Fatalf("after done: %+v", b)
	}
}

// Several peers are asked in parallel for distinct pieces; when every
// piece is asked, a free peer duplicates the least-asked one (end game),
// never more than twice.
func TestFetchParallelAndEndGame(t *testing.T) {
	info, ih := testInfo(5*PieceSize, 2)
	x := newFx(t, Config{InfoHash: ih})
	ids := []PeerID{x.AddPeer(len(info)), x.AddPeer(len(info)), x.AddPeer(len(info))}
	b := x.ready()
	seen := map[int]int{}
	for _, r := range b.reqs {
		seen[r.Piece]++
	}
	if len(b.reqs) != 6 || len(seen) != 5 {
		t.Fatalf("requests %v", b.reqs)
	}
	for p, n := range seen {
		if n > 2 {
			t.Fatalf("piece %d asked %d times", p, n)
		}
	}
	// Everyone answers everything: duplicates are discarded without
	// penalty and the copy verifies.
	for _, r := range b.reqs {
		x.Data(r.Peer, r.Piece, len(info), pieceOf(info, r.Piece))
	}
	b = x.ready()
	for len(b.info) == 0 {
		if len(b.reqs) == 0 {
			t.Fatal("stalled")
		}
		for _, r := range b.reqs {
			x.Data(r.Peer, r.Piece, len(info), pieceOf(info, r.Piece))
		}
		b = x.ready()
	}
	if !bytes.Equal(b.info, info) || len(b.drops) != 0 {
		t.Fatalf("drops %v", b.drops)
	}
	_ = ids
}

// A silent peer's requests time out and go to another peer; the silent
// peer backs off, doubling; its late answer is accepted, not a violation.
func TestTimeoutAsksAnother(t *testing.T) {
	info, ih := testInfo(2*PieceSize, 3)
	x := newFx(t, Config{InfoHash: ih, MaxInFlight: 1})
	slow := x.AddPeer(len(info))
	if got := x.ready().to(slow); !slices.Equal(got, []int{0}) {
		t.Fatalf("slow asked %v", got)
	}
	fast := x.AddPeer(len(info))
	if got := x.ready().to(fast); !slices.Equal(got, []int{1}) {
		t.Fatalf("fast asked %v", got)
	}
	x.Data(fast, 1, len(info), pieceOf(info, 1))
	if got := x.ready().to(fast); !slices.Equal(got, []int{0}) {
		t.Fatalf("end game: fast asked %v", got) // piece 0 duplicated
	}
	x.advance(15 * time.Second)
	if b := x.ready(); len(b.to(slow)) != 0 || len(b.drops) != 0 {
		t.Fatalf("slow asked again at once: %+v", b)
	}
	if x.peers[slow.Slot()].timeouts != 1 || x.peers[slow.Slot()].notBefore != 30*time.Second {
		t.Fatalf("back-off: %+v", x.peers[slow.Slot()])
	}
	x.Data(slow, 0, len(info), pieceOf(info, 0)) // late, still welcome
	b := x.ready()
	if _, ok := b.dropped(slow); ok || !bytes.Equal(b.info, info) {
		t.Fatalf("late answer: %+v", b)
	}
	if x.backoff(1) != 15*time.Second || x.backoff(2) != 30*time.Second || x.backoff(10) != 5*time.Minute {
		t.Fatal("backoff")
	}
}

// A second answer to one request is unrequested.
func TestAnswerTwiceIsUnrequested(t *testing.T) {
	info, ih := testInfo(2*PieceSize, 4)
	x := newFx(t, Config{InfoHash: ih})
	a := x.AddPeer(len(info))
	x.ready()
	x.Data(a, 0, len(info), pieceOf(info, 0))
	x.Data(a, 0, len(info), pieceOf(info, 0))
	if d, ok := x.ready().dropped(a); !ok || d.Reason != ReasonUnrequested || d.Ban {
		t.Fatalf("drop %+v %v", d, ok)
	}
}

// A reject sends the piece elsewhere and benches the peer for
// RejectBackoff; a reject for nothing asked is ignored.
func TestRejectBacksOff(t *testing.T) {
	info, ih := testInfo(PieceSize, 5)
	x := newFx(t, Config{InfoHash: ih})
	a := x.AddPeer(len(info))
	x.ready()
	x.Reject(a, 5) // never asked: ignored
	x.Reject(a, 0)
	bb := x.AddPeer(len(info))
	b := x.ready()
	if !slices.Equal(b.to(bb), []int{0}) || len(b.to(a)) != 0 || len(b.drops) != 0 {
		t.Fatalf("after reject: %+v", b)
	}
	x.Reject(bb, 0)
	x.advance(59 * time.Second)
	if b := x.ready(); len(b.reqs) != 0 {
		t.Fatalf("asked during back-off: %v", b.reqs)
	}
	x.advance(time.Second)
	if b := x.ready(); len(b.reqs) != 2 {
		t.Fatalf("after back-off: %v", b.reqs)
	}
}

func TestViolations(t *testing.T) {
	info, ih := testInfo(2*PieceSize+1, 6)
	x := newFx(t, Config{InfoHash: ih})
	huge := x.AddPeer(MaxSize + 1)
	unasked := x.AddPeer(len(info))
	wrongTotal := x.AddPeer(len(info))
	wrongLen := x.AddPeer(len(info))
	b := x.ready()
	if d, ok := b.dropped(huge); !ok || d.Reason != ReasonTooLarge {
		t.Fatalf("huge: %+v", b.drops)
	}
	p := b.to(wrongLen)[0]
	x.Data(unasked, 2, len(info), pieceOf(info, 2))
	x.Data(wrongTotal, b.to(wrongTotal)[0], len(info)+1, pieceOf(info, 0))
	x.Data(wrongLen, p, len(info), make([]byte, 5))
	b = x.ready()
	for id, r := range map[PeerID]Reason{unasked: ReasonUnrequested, wrongTotal: ReasonSizeMismatch, wrongLen: ReasonBadLength} {
		if d, ok := b.dropped(id); !ok || d.Reason != r || d.Ban {
			t.Errorf("%v: %+v, want %v", id, d, r)
		}
	}
	// Dropped peers are ignored until PeerGone, and nothing is asked of them.
	x.Data(unasked, 0, len(info), pieceOf(info, 0))
	if b := x.ready(); len(b.drops)+len(b.reqs) != 0 {
		t.Fatalf("after drops: %+v", b)
	}
	for _, r := range []Reason{0, ReasonTooLarge, ReasonBadData, 99} {
		if r.String() == "" {
			t.Fatal("reason name")
		}
	}
}

// A stale handle never aliases the peer that reuses its slot.
func TestStaleHandles(t *testing.T) {
	info, ih := testInfo(PieceSize, 7)
	x := newFx(t, Config{InfoHash: ih})
	a := x.AddPeer(len(info))
	x.ready()
	x.PeerGone(a)
	x.PeerGone(a)
	b := x.AddPeer(len(info))
	if a.Slot() != b.Slot() || a == b || a.String() == b.String() {
		t.Fatalf("%v %v", a, b)
	}
	if got := x.ready().to(b); !slices.Equal(got, []int{0}) {
		t.Fatalf("piece 0 not handed to the new peer: %v", got)
	}
	x.Data(a, 0, len(info), pieceOf(info, 0)) // stale: ignored
	x.Reject(a, 0)
	if b := x.ready(); len(b.drops) != 0 || len(b.reqs) != 0 || x.nhave != 0 {
		t.Fatalf("stale handle acted: %+v", b)
	}
	x.PeerGone(NoPeer)
	x.PeerGone(PeerID(999))
}

// A sole source of a bad copy is dropped and banned at once.
func TestSoleLiarBanned(t *testing.T) {
	info, ih := testInfo(2*PieceSize, 8)
	x := newFx(t, Config{InfoHash: ih})
	l := x.AddPeer(len(info))
	for _, r := range x.ready().reqs {
		x.Data(l, r.Piece, len(info), make([]byte, len(pieceOf(info, r.Piece))))
	}
	b := x.ready()
	if d, ok := b.dropped(l); !ok || d.Reason != ReasonBadData || !d.Ban || x.solo {
		t.Fatalf("liar: %+v solo %v", b.drops, x.solo)
	}
}

// A bad copy from two peers puts the fetcher in solo mode; whichever peer
// proves a copy first, the liar ends banned and the honest peer is never
// dropped.
func TestMixedLiarFound(t *testing.T) {
	info, ih := testInfo(4*PieceSize, 9)
	for seed := range uint64(20) {
		x := newFx(t, Config{InfoHash: ih, Seed: seed})
		honest, liar := x.AddPeer(len(info)), x.AddPeer(len(info))
		answer := func(b batch) {
			for _, r := range b.reqs {
				data := pieceOf(info, r.Piece)
				if r.Peer == liar {
					data = bytes.Repeat([]byte{0xee}, len(data))
				}
				x.Data(r.Peer, r.Piece, len(info), data)
			}
		}
		var drops []Drop
		b := x.ready()
		for i := 0; len(b.info) == 0; i++ {
			if i > 50 || (len(b.reqs) == 0 && len(b.info) == 0) {
				t.Fatalf("seed %d: stalled", seed)
			}
			answer(b)
			b = x.ready()
			drops = append(drops, b.drops...)
			if len(drops) > 0 && !x.solo && !x.done {
				t.Fatalf("seed %d: drop before solo mode: %v", seed, drops)
			}
		}
		if !bytes.Equal(b.info, info) {
			t.Fatalf("seed %d: wrong bytes", seed)
		}
		if len(drops) != 1 || drops[0].Peer != liar || drops[0].Reason != ReasonBadData || !drops[0].Ban {
			t.Fatalf("seed %d: drops %+v (honest %v)", seed, drops, honest)
		}
	}
}

// Peers announcing a size other than the one verified wait unasked and
// are dropped at the end; a wrong size announced first is abandoned once
// its only peer proves to be a liar or goes silent.
func TestSizes(t *testing.T) {
	info, ih := testInfo(3*PieceSize, 10)
	t.Run("other size waits, then dropped", func(t *testing.T) {
		x := newFx(t, Config{InfoHash: ih})
		a := x.AddPeer(len(info))
		odd := x.AddPeer(len(info) + 1)
		none := x.AddPeer(0)
		b := x.ready()
		for len(b.info) == 0 {
			if len(b.to(odd))+len(b.to(none)) != 0 {
				t.Fatalf("asked a peer of another size: %v", b.reqs)
			}
			for _, r := range b.reqs {
				x.Data(r.Peer, r.Piece, len(info), pieceOf(info, r.Piece))
			}
			b = x.ready()
		}
		if d, ok := b.dropped(odd); !ok || d.Reason != ReasonSizeMismatch || d.Ban || len(b.drops) != 1 {
			t.Fatalf("drops %+v", b.drops)
		}
		_ = a
	})
	t.Run("first size a lie", func(t *testing.T) {
		x := newFx(t, Config{InfoHash: ih})
		liar := x.AddPeer(len(info) + 5)
		b := x.ready()
		honest := x.AddPeer(len(info))
		for _, r := range b.reqs {
			x.Data(liar, r.Piece, len(info)+5, make([]byte, len(pieceOf(make([]byte, len(info)+5), r.Piece))))
		}
		for range 10 {
			b = x.ready()
			for _, r := range b.reqs {
				if r.Peer == liar {
					x.Data(liar, r.Piece, len(info)+5, make([]byte, len(pieceOf(make([]byte, len(info)+5), r.Piece))))
				} else {
					x.Data(r.Peer, r.Piece, len(info), pieceOf(info, r.Piece))
				}
			}
			if d, ok := b.dropped(liar); ok && (d.Reason != ReasonBadData || !d.Ban) {
				t.Fatalf("liar %+v", d)
			}
			if len(b.info) > 0 {
				break
			}
		}
		if !bytes.Equal(b.info, info) {
			t.Fatal("not fetched")
		}
		_ = honest
	})
	t.Run("first size silent", func(t *testing.T) {
		x := newFx(t, Config{InfoHash: ih})
		silent := x.AddPeer(len(info) + 5)
		x.ready()
		honest := x.AddPeer(len(info))
		if b := x.ready(); len(b.to(honest)) != 0 {
			t.Fatal("honest peer asked while the first size's peer is fresh")
		}
		x.advance(15 * time.Second) // silent times out: stale
		b := x.ready()
		if x.Size() != len(info) || len(b.to(honest)) != 2 {
			t.Fatalf("size %d, honest asked %v", x.Size(), b.to(honest))
		}
		for len(b.info) == 0 {
			for _, r := range b.reqs {
				x.Data(r.Peer, r.Piece, len(info), pieceOf(info, r.Piece))
			}
			b = x.ready()
		}
		if d, ok := b.dropped(silent); !ok || d.Reason != ReasonSizeMismatch {
			t.Fatalf("silent liar kept: %+v", b.drops)
		}
	})
	t.Run("everyone stale: sizes take turns", func(t *testing.T) {
		x := newFx(t, Config{InfoHash: ih})
		x.AddPeer(len(info) + 5)
		x.ready()
		x.AddPeer(len(info))
		x.advance(15 * time.Second)
		x.ready() // switched to len(info); its peer is asked and goes silent
		if x.Size() != len(info) {
			t.Fatal("no switch")
		}
		x.advance(15 * time.Second)
		x.ready()
		if x.Size() != len(info) {
			t.Fatal("switched back before MaxBackoff")
		}
		x.advance(5 * time.Minute)
		x.ready()
		if x.Size() != len(info)+5 {
			t.Fatal("no second turn")
		}
	})
}

// The soloist that times out is replaced; the new soloist's copy starts
// afresh; the old soloist's late answers no longer count.
func TestSoloistReplaced(t *testing.T) {
	info, ih := testInfo(3*PieceSize, 11)
	x := newFx(t, Config{InfoHash: ih, MaxInFlight: 1})
	a, c := x.AddPeer(len(info)), x.AddPeer(len(info))
	// A mixed bad copy.
	for i := 0; !x.solo; i++ {
		if i > 5 {
			t.Fatal("not in solo mode")
		}
		for _, r := range x.ready().reqs {
			x.Data(r.Peer, r.Piece, len(info), bytes.Repeat([]byte{1}, len(pieceOf(info, r.Piece))))
		}
	}
	b := x.ready()
	solo := x.soloist.id
	other := a
	if solo == a {
		other = c
	}
	if len(b.reqs) != 1 || b.reqs[0].Peer != solo {
		t.Fatalf("solo requests %v", b.reqs)
	}
	x.Data(solo, b.reqs[0].Piece, len(info), pieceOf(info, b.reqs[0].Piece))
	r := x.ready().reqs
	x.advance(15 * time.Second) // the soloist goes silent
	b = x.ready()
	if x.soloist == nil || x.soloist.id != other || x.nhave != 0 || !slices.Equal(b.to(other), []int{0}) {
		t.Fatalf("soloist %v, have %d, requests %v", x.soloist, x.nhave, b.reqs)
	}
	x.Data(solo, r[0].Piece, len(info), pieceOf(info, r[0].Piece)) // late: not part of other's copy
	if x.nhave != 0 {
		t.Fatal("old soloist's late answer counted")
	}
	for len(b.info) == 0 {
		for _, q := range b.reqs {
			x.Data(q.Peer, q.Piece, len(info), pieceOf(info, q.Piece))
		}
		b = x.ready()
	}
	if !bytes.Equal(b.info, info) {
		t.Fatal("wrong bytes")
	}
	// Both contributed the same bad bytes to the mixed copy: both banned.
	if len(b.drops) != 2 {
		t.Fatalf("drops %+v", b.drops)
	}
}

func TestSlotsExhausted(t *testing.T) {
	x := newFx(t, Config{})
	for range maxSlots {
		if x.AddPeer(0) == NoPeer {
			t.Fatal("NoPeer before the limit")
		}
	}
	if x.AddPeer(0) != NoPeer {
		t.Fatal("more than maxSlots peers")
	}
	x.PeerGone(PeerID(1 | 1<<16))
	if id := x.AddPeer(0); id.Slot() != 1 {
		t.Fatalf("freed slot not reused: %v", id)
	}
}
