package core

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// win is a window over pieces of 4 blocks (64 KiB): from piece first, the
// given number of pieces ahead, read at one piece a second.
func win(first, pieces int64) Window {
	const plen = 4 * BlockSize
	return Window{Pos: first * plen, Readahead: pieces * plen, Rate: plen}
}

// Pieces in a window are requested first, in deadline order, not rarest
// first; the rest follows rarest first.
func TestDeadlineOrderBeforeRarest(t *testing.T) {
	x := newH(t, Config{NumPieces: 16, RandomFirst: -1, MinRequests: 24, MaxRequests: 24})
	if err := x.SetReader(1, win(8, 4)); err != nil {
		t.Fatal(err)
	}
	other := x.PeerConnected(Caps{})
	x.PeerBitfield(other, bitfieldOf(16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)) // 15 is the rarest
	seed := x.PeerConnected(Caps{})
	x.PeerBitfield(seed, full(16))
	x.PeerUnchoke(seed)
	got := pieces(x.ready().kind(seed, MsgRequest))
	if want := []uint32{8, 9, 10, 11, 15}; len(got) < 6 || !slices.Equal(got[:5], want) {
		t.Fatalf("requested %v, want the window 8-11, then the rarest 15", got)
	}
	if st := x.Stats(); st.Readers != 1 || st.Deadlines != 4 {
		t.Fatalf("stats %+v", st)
	}
}

// Reading raises what is read: a piece deselected with SetWanted is wanted
// while a window holds it, and back to its selection when the window
// leaves (a selection made meanwhile is kept).
func TestDeadlineWantsSkippedPieces(t *testing.T) {
	x := newH(t, Config{NumPieces: 8})
	for i := range uint32(8) {
		x.SetWanted(i, false)
	}
	id := x.peerWith(3)
	if x.ready().has(id, MsgInterested) {
		t.Fatal("interested with nothing wanted")
	}
	if err := x.SetReader(7, win(2, 2)); err != nil { // pieces 2 and 3
		t.Fatal(err)
	}
	b := x.ready()
	if !x.Wanted(2) || !x.Wanted(3) || x.Wanted(4) || !b.has(id, MsgInterested) {
		t.Fatalf("wanted 2 %v 3 %v 4 %v, interested %v", x.Wanted(2), x.Wanted(3), x.Wanted(4), b.has(id, MsgInterested))
	}
	if reqs := b.kind(id, MsgRequest); len(reqs) == 0 || reqs[0].Piece != 3 {
		t.Fatalf("requests %v, want piece 3", reqs)
	}
	x.SetWanted(2, true) // selected while read: stays wanted after
	x.RemoveReader(7)
	if !x.Wanted(2) || x.Wanted(3) {
		t.Fatalf("after the reader: wanted 2 %v (selected), 3 %v (in flight, not selected)", x.Wanted(2), x.Wanted(3))
	}
	x.ready()
	if st := x.Stats(); st.Readers != 0 || st.Deadlines != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A window piece is picked before a high-priority one.
func TestDeadlineBeforePriority(t *testing.T) {
	x := newH(t, Config{NumPieces: 8, RandomFirst: -1, MinRequests: 8, MaxRequests: 8})
	x.SetPriority(1, PriorityHigh)
	if err := x.SetReader(1, win(5, 1)); err != nil {
		t.Fatal(err)
	}
	id := x.seedPeer(true)
	if got := pieces(x.ready().kind(id, MsgRequest)); !slices.Equal(got, []uint32{5, 1}) {
		t.Fatalf("requested %v, want the window (5) then the high priority piece (1)", got)
	}
}

// The blocks of the piece under the reading position, all requested from
// a first peer, are requested again from the other fast peers (a local
// end game, at most urgentDuplicates per block); the first copy cancels
// the others.
func TestDeadlineUrgentDuplicated(t *testing.T) {
	x := newH(t, Config{NumPieces: 8, MinRequests: 4, MaxRequests: 4})
	if err := x.SetReader(1, win(0, 1)); err != nil {
		t.Fatal(err)
	}
	a := x.seedPeer(true)
	ra := x.ready().kind(a, MsgRequest)
	if len(ra) != 4 || pieces(ra)[0] != 0 {
		t.Fatalf("first peer: %v", ra)
	}
	b := x.seedPeer(true)
	c := x.seedPeer(true)
	bt := x.ready()
	rb, rc := bt.kind(b, MsgRequest), bt.kind(c, MsgRequest)
	dups := 0
	for _, m := range append(rb, rc...) {
		if m.Piece == 0 {
			dups++
		}
	}
	// Every block from every fast peer (three here, fewer than
	// urgentDuplicates).
	if dups != 8 {
		t.Fatalf("%d duplicates of the urgent piece's 4 blocks (b %v, c %v), want 8", dups, rb, rc)
	}
	if x.Stats().Duplicated != 8 {
		t.Fatalf("stats %+v", x.Stats())
	}
	if v := x.BlockReceived(a, ra[0].Piece, ra[0].Begin, ra[0].Length, nil); v != BlockAccepted {
		t.Fatal(v)
	}
	bt = x.ready()
	if n := len(bt.kind(b, MsgCancel)) + len(bt.kind(c, MsgCancel)); n != 2 {
		t.Fatalf("%d cancels for the duplicates of the first block, want 2", n)
	}
}

// A block of a window piece held by a peer that stops sending is requested
// from another peer once it is late (its expected arrival past), long
// before the snub timeout.
func TestDeadlineLateBlockRequestedElsewhere(t *testing.T) {
	x := newH(t, Config{NumPieces: 64, MinRequests: 4, MaxRequests: 4})
	if err := x.SetReader(1, Window{Pos: 0, Readahead: 64 * 4 * BlockSize, Rate: 4 * BlockSize / 4}); err != nil {
		t.Fatal(err) // a piece every 4 s: only piece 0 is urgent
	}
	slow := x.seedPeer(true)
	fast := x.seedPeer(true)
	b := x.ready()
	pend := map[PeerID][]Message{slow: b.kind(slow, MsgRequest), fast: b.kind(fast, MsgRequest)}
	// Both deliver for 3 s, the slow peer a block a second, then it stops.
	for s := 0; s < 3; s++ {
		for _, id := range []PeerID{slow, fast} {
			n := 4
			if id == slow {
				n = 1
			}
			n = min(n, len(pend[id]))
			bt := give(x, pend[id][:n])
			pend[id] = pend[id][n:]
			for _, h := range bt.hash {
				x.PieceHashed(h, true)
			}
			for _, q := range []PeerID{slow, fast} {
				pend[q] = append(pend[q], bt.kind(q, MsgRequest)...)
			}
		}
		bt := x.tick(time.Second)
		pend[slow] = append(pend[slow], bt.kind(slow, MsgRequest)...)
		pend[fast] = append(pend[fast], bt.kind(fast, MsgRequest)...)
	}
	held := slices.Clone(pend[slow])
	if len(held) == 0 {
		t.Fatal("the slow peer holds nothing")
	}
	for s := 0; s < 4; s++ {
		bt := give(x, pend[fast])
		pend[fast] = bt.kind(fast, MsgRequest)
		for _, h := range bt.hash {
			x.PieceHashed(h, true)
		}
		bt = x.ready()
		pend[fast] = append(pend[fast], bt.kind(fast, MsgRequest)...)
		bt = x.tick(time.Second)
		pend[fast] = append(pend[fast], bt.kind(fast, MsgRequest)...)
	}
	for _, m := range held {
		if x.state[m.Piece] != stHave && x.state[m.Piece] != stHashing {
			t.Errorf("block %d/%d held by the stalled peer not fetched elsewhere (piece state %d)", m.Piece, m.Begin/BlockSize, x.state[m.Piece])
		}
	}
	if ps, _ := x.PeerStats(slow); ps.Snubbed {
		t.Fatal("snubbed: the snub timeout, not lateness, moved the blocks")
	}
	if x.Stats().Duplicated == 0 {
		t.Fatal("no duplicate request counted")
	}
}

// A seek cancels each peer's requests for pieces no window holds, except
// the oldest keepStarted; the new window's requests follow at once.
func TestSeekCancelsWhatIsNoLongerNeeded(t *testing.T) {
	x := newH(t, Config{NumPieces: 64, RandomFirst: -1, MinRequests: 32, MaxRequests: 32})
	id := x.seedPeer(true)
	before := x.ready().kind(id, MsgRequest)
	if len(before) != 32 {
		t.Fatal(len(before))
	}
	if err := x.SetReader(1, win(40, 2)); err != nil {
		t.Fatal(err)
	}
	b := x.ready()
	cancels := b.kind(id, MsgCancel)
	inWindow := 0
	for _, m := range before[keepStarted:] {
		if m.Piece == 40 || m.Piece == 41 {
			inWindow++
		}
	}
	if len(cancels) != 32-keepStarted-inWindow {
		t.Fatalf("%d cancels, want %d", len(cancels), 32-keepStarted-inWindow)
	}
	for _, m := range cancels {
		if slices.Contains(before[:keepStarted], m) {
			t.Fatalf("cancelled %v, one of the oldest", m)
		}
	}
	reqs := b.kind(id, MsgRequest)
	if len(reqs) == 0 || reqs[0].Piece != 40 && reqs[0].Piece != 41 {
		t.Fatalf("requests after the seek %v, want the window's first", pieces(reqs))
	}
	if x.Stats().Preempted != int64(len(cancels)) {
		t.Fatalf("stats %+v", x.Stats())
	}
	// Reading forward within the window is no seek: nothing cancelled.
	if err := x.SetReader(1, win(41, 2)); err != nil {
		t.Fatal(err)
	}
	if c := x.ready().kind(id, MsgCancel); len(c) != 0 {
		t.Fatalf("cancels %v on reading forward", c)
	}
	// A late answer to a cancelled request (not made again) is discarded,
	// not a violation.
	for _, m := range cancels {
		again := false
		for _, r := range reqs {
			again = again || r.Piece == m.Piece && r.Begin == m.Begin
		}
		if !again {
			if v := x.BlockReceived(id, m.Piece, m.Begin, m.Length, nil); v != BlockDiscarded {
				t.Fatalf("late block: %v", v)
			}
			break
		}
	}
}

// Several readers: the deadline queue merges their windows by deadline, a
// piece in two windows at the earlier one.
func TestReadersMerge(t *testing.T) {
	x := newH(t, Config{NumPieces: 32})
	plen := int64(4 * BlockSize)
	if err := x.SetReader(1, Window{Pos: 2 * plen, Readahead: 4 * plen, Rate: plen}); err != nil {
		t.Fatal(err)
	}
	if err := x.SetReader(2, Window{Pos: 4 * plen, Readahead: 4 * plen, Rate: 2 * plen}); err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, e := range x.dq {
		got = append(got, e.piece)
	}
	// Reader 1: 2@0 3@1s 4@2s 5@3s; reader 2: 4@0 5@0.5s 6@1s 7@1.5s.
	if want := []uint32{2, 4, 5, 3, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("deadline order %v, want %v", got, want)
	}
	x.RemoveReader(1)
	x.RemoveReader(9) // unknown: ignored
	if st := x.Stats(); st.Readers != 1 || st.Deadlines != 4 {
		t.Fatalf("stats %+v", st)
	}
	if err := x.checkInvariants(); err != nil {
		t.Fatal(err)
	}
}

func TestTooManyReaders(t *testing.T) {
	x := newH(t, Config{NumPieces: 8})
	for id := range ReaderID(MaxReaders) {
		if err := x.SetReader(id, win(int64(id%8), 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.SetReader(MaxReaders, win(0, 1)); !errors.Is(err, ErrTooManyReaders) {
		t.Fatalf("reader %d: %v", MaxReaders, err)
	}
	if err := x.SetReader(3, win(5, 2)); err != nil {
		t.Fatalf("moving a known reader: %v", err)
	}
	x.ready()
}

// Windows out of range or absurd are clamped: the core stays consistent.
func TestReaderWindowsClamped(t *testing.T) {
	x := newH(t, Config{NumPieces: 2000, PieceLength: BlockSize, TotalLength: 2000*BlockSize - 7})
	total := x.cfg.TotalLength
	for k, w := range []Window{
		{Pos: -5},
		{Pos: total + 100},
		{Pos: total},
		{Pos: total - 1, End: total + 9},
		{Pos: 10, End: 5},
		{Pos: 0, Rate: 1 << 62},
		{Pos: 0, Rate: 1, Readahead: 1 << 62},
		{Pos: BlockSize * 100, End: BlockSize*100 + 1},
		{Pos: 3, Readahead: -4, Rate: -1},
	} {
		if err := x.SetReader(ReaderID(k), w); err != nil {
			t.Fatal(err)
		}
		if err := x.checkInvariants(); err != nil {
			t.Fatalf("window %+v: %v", w, err)
		}
	}
	for k := range x.readers {
		r := &x.readers[k]
		if r.last-r.first >= MaxWindow {
			t.Fatalf("reader %d window of %d pieces", r.id, r.last-r.first+1)
		}
	}
	if r := x.readers[x.readerIndex(2)]; r.last >= r.first {
		t.Fatalf("reader at the end has window [%d, %d]", r.first, r.last)
	}
	if r := x.readers[x.readerIndex(7)]; r.first != 100 || r.last != 100 {
		t.Fatalf("window ending with its file: [%d, %d]", r.first, r.last)
	}
}

// give answers requests with blocks; copies of blocks a duplicate already
// brought are discarded (deliver insists on acceptance).
func give(x *h, reqs []Message) batch {
	x.tb.Helper()
	for _, m := range reqs {
		if v := x.BlockReceived(m.Peer, m.Piece, m.Begin, m.Length, nil); v == BlockViolation {
			x.tb.Fatalf("block %+v: %v", m, v)
		}
	}
	return x.ready()
}
