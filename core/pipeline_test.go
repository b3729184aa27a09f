package core

import (
	"slices"
	"testing"
	"time"
)

func TestPipelineSlowStartAndReqQ(t *testing.T) {
	x := newH(t, Config{NumPieces: 64})
	id := x.PeerConnected(Caps{Fast: true, ReqQ: 10})
	x.PeerHaveAll(id)
	x.PeerUnchoke(id)
	reqs := x.ready().kind(id, MsgRequest)
	if len(reqs) != 4 {
		t.Fatalf("%d initial requests, want MinRequests=4", len(reqs))
	}
	// Slow start: each block received adds one to the pipeline.
	b := x.deliver(reqs)
	if got := len(b.kind(id, MsgRequest)); got != 8 {
		t.Fatalf("%d requests after 4 blocks, want 8", got)
	}
	x.deliver(b.kind(id, MsgRequest))
	ps, _ := x.PeerStats(id)
	if ps.Outstanding != 10 || ps.Target != 10 {
		t.Fatalf("outstanding %d target %d, want both capped at reqq 10", ps.Outstanding, ps.Target)
	}
}

func TestPipelineFollowsRate(t *testing.T) {
	x := newH(t, Config{NumPieces: 1024, MaxRequests: 500})
	id := x.seedPeer(true)
	var pending []Message
	pending = append(pending, x.ready().kind(id, MsgRequest)...)
	// The peer delivers 32 blocks (512 KiB) per second for 40 s.
	for range 40 {
		n := min(32, len(pending))
		b := x.deliver(pending[:n])
		pending = append(pending[n:], b.kind(id, MsgRequest)...)
		for _, h := range b.hash {
			x.PieceHashed(h, true)
		}
		pending = append(pending, x.tick(time.Second).kind(id, MsgRequest)...)
	}
	ps, _ := x.PeerStats(id)
	// 512 KiB/s × 3 s ÷ 16 KiB = 96 blocks.
	if ps.Target < 90 || ps.Target > 96 {
		t.Fatalf("target %d at %.0f B/s, want about 96", ps.Target, ps.DownloadRate)
	}
	if ps.Outstanding != ps.Target {
		t.Fatalf("outstanding %d, target %d", ps.Outstanding, ps.Target)
	}
}

func TestSnubbedPeerRequestsGoElsewhere(t *testing.T) {
	x := newH(t, Config{NumPieces: 32, SnubTimeout: 20 * time.Second, RandomFirst: -1, MinRequests: 3})
	slow := x.seedPeer(true)
	first := x.ready().kind(slow, MsgRequest)
	if len(first) != 3 {
		t.Fatal(len(first))
	}
	// The peer sends one block, then nothing: its piece is left partial.
	x.deliver(first[:1])
	if b := x.tick(19 * time.Second); b.has(slow, MsgCancel) {
		t.Fatalf("snubbed before the timeout")
	}
	fast := x.seedPeer(true)
	busy := x.ready().kind(fast, MsgRequest)
	held, _ := x.PeerStats(slow)
	b := x.tick(time.Second)
	cs := b.kind(slow, MsgCancel)
	if len(cs) != held.Outstanding || len(cs) < 2 {
		t.Fatalf("%d cancels to the silent peer, want %d", len(cs), held.Outstanding)
	}
	var lost []Message // the blocks of the piece it left partial
	for _, m := range cs {
		if m.Piece == cs[0].Piece {
			lost = append(lost, m)
		}
	}
	ps, _ := x.PeerStats(slow)
	if !ps.Snubbed || ps.Target != 1 || ps.Outstanding > 1 {
		t.Fatalf("silent peer stats %+v", ps)
	}
	// As the fast peer works through the torrent, it takes over the
	// silent peer's blocks (the silent peer keeps at most one).
	got := map[Message]bool{}
	for round := 0; len(busy) > 0 && round < 2; round++ {
		for _, m := range busy {
			got[Message{Piece: m.Piece, Begin: m.Begin, Length: m.Length}] = true
		}
		b = x.deliver(busy)
		for _, h := range b.hash {
			x.PieceHashed(h, true)
		}
		busy = append(b.kind(fast, MsgRequest), x.ready().kind(fast, MsgRequest)...)
	}
	kept := x.lookup(slow).out[x.lookup(slow).outHead:]
	var late Message
	for _, m := range lost {
		ref := reqRef{m.Piece, m.Begin / BlockSize}
		if len(kept) == 1 && kept[0].ref == ref {
			continue
		}
		late = m
		if !got[Message{Piece: m.Piece, Begin: m.Begin, Length: m.Length}] {
			t.Errorf("block %+v not re-requested from the other peer", m)
		}
	}
	// The regular choker passes over a snubbed peer while leeching.
	x.PeerInterested(slow)
	x.tick(10 * time.Second)
	if ps, _ := x.PeerStats(slow); !ps.AmChoking && !ps.Optimistic {
		t.Errorf("snubbed peer holds a regular unchoke slot")
	}
	// A late answer to a cancelled request is no violation, and unsnubs.
	if v := x.BlockReceived(slow, late.Piece, late.Begin, late.Length, nil); v != BlockDiscarded {
		t.Fatalf("late block: %v", v)
	}
	if ps, _ := x.PeerStats(slow); ps.Snubbed {
		t.Errorf("still snubbed after delivering")
	}
}

func TestRejectReturnsBlockToPool(t *testing.T) {
	x := newH(t, Config{NumPieces: 1, MinRequests: 4})
	a := x.seedPeer(true)
	ra := x.ready().kind(a, MsgRequest)
	x.PeerReject(a, ra[2].Piece, ra[2].Begin, ra[2].Length)
	x.ready()
	b := x.seedPeer(true)
	rb := x.ready().kind(b, MsgRequest)
	if len(rb) == 0 || rb[0].Begin != ra[2].Begin {
		t.Fatalf("rejected block not re-requested: %v", rb)
	}
	if x.Stats().Endgame && len(rb) > 1 && rb[0].Begin == rb[1].Begin {
		t.Fatalf("duplicate request to one peer")
	}
	// A reject for something never requested is a violation.
	x.PeerReject(a, 0, 3*BlockSize, BlockSize)
	x.PeerReject(a, 0, 3*BlockSize, BlockSize)
	if d := x.ready().drops; len(d) != 1 || d[0].Reason != ReasonProtocol {
		t.Fatalf("drops %v", d)
	}
}

func TestChokeWithAndWithoutFast(t *testing.T) {
	x := newH(t, Config{NumPieces: 4})
	slow := x.seedPeer(false)
	x.ready()
	x.PeerChoke(slow)
	x.ready()
	if ps, _ := x.PeerStats(slow); ps.Outstanding != 0 {
		t.Fatalf("requests kept across a choke without the fast extension: %d", ps.Outstanding)
	}
	fast := x.seedPeer(true)
	x.ready()
	x.PeerChoke(fast)
	x.ready()
	if ps, _ := x.PeerStats(fast); ps.Outstanding != 4 {
		t.Fatalf("fast peer's requests dropped on choke (%d left): it must reject them", ps.Outstanding)
	}
}

func TestViolationsDropThePeer(t *testing.T) {
	cases := []struct {
		name   string
		fast   bool
		do     func(x *h, id PeerID)
		reason Reason
	}{
		{"unrequested block", true, func(x *h, id PeerID) { x.BlockReceived(id, 1, 0, BlockSize, nil) }, ReasonUnrequested},
		{"misaligned block", true, func(x *h, id PeerID) { x.BlockReceived(id, 1, 100, BlockSize, nil) }, ReasonBadIndex},
		{"short block", true, func(x *h, id PeerID) { x.BlockReceived(id, 1, 0, 100, nil) }, ReasonBadIndex},
		{"block index", true, func(x *h, id PeerID) { x.BlockReceived(id, 99, 0, BlockSize, nil) }, ReasonBadIndex},
		{"have index", true, func(x *h, id PeerID) { x.PeerHave(id, 16) }, ReasonBadIndex},
		{"bitfield length", true, func(x *h, id PeerID) { x.PeerBitfield(id, make([]byte, 3)) }, ReasonBadBitfield},
		{"bitfield takes pieces back", true, func(x *h, id PeerID) { x.PeerBitfield(id, full(15)); x.PeerBitfield(id, make([]byte, 2)) }, ReasonBadBitfield},
		{"have none after have all", true, func(x *h, id PeerID) { x.PeerHaveAll(id); x.PeerHaveNone(id) }, ReasonBadBitfield},
		{"have all after have", true, func(x *h, id PeerID) { x.PeerHave(id, 1); x.PeerHaveAll(id) }, ReasonProtocol},
		{"bitfield after have", true, func(x *h, id PeerID) { x.PeerHave(id, 1); x.PeerBitfield(id, full(16)) }, ReasonBadBitfield},
		{"have all without fast", false, func(x *h, id PeerID) { x.PeerHaveAll(id) }, ReasonProtocol},
		{"have none without fast", false, func(x *h, id PeerID) { x.PeerHaveNone(id) }, ReasonProtocol},
		{"reject without fast", false, func(x *h, id PeerID) { x.PeerReject(id, 0, 0, BlockSize) }, ReasonProtocol},
		{"suggest index", true, func(x *h, id PeerID) { x.PeerSuggest(id, 1<<20) }, ReasonBadIndex},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := newH(t, Config{NumPieces: 15})
			id := x.PeerConnected(Caps{Fast: c.fast})
			c.do(x, id)
			b := x.ready()
			if len(b.drops) != 1 || b.drops[0].Peer != id || b.drops[0].Reason != c.reason || b.drops[0].Ban {
				t.Fatalf("drops %+v, want %v", b.drops, c.reason)
			}
			// Events from a dropped peer are ignored until PeerGone.
			x.PeerHave(id, 0)
			if _, ok := x.PeerStats(id); ok {
				t.Fatalf("dropped peer still listed")
			}
			x.PeerGone(id)
			again := x.PeerConnected(Caps{})
			if again == id || again.Slot() != id.Slot() {
				t.Fatalf("slot reuse: %v then %v", id, again)
			}
			x.PeerHave(id, 3) // stale handle: ignored
			if x.avail[3] != 0 {
				t.Fatalf("stale handle changed availability")
			}
			x.ready()
		})
	}
}

func TestBitfieldSpareBits(t *testing.T) {
	x := newH(t, Config{NumPieces: 10})
	id := x.PeerConnected(Caps{})
	bf := full(10)
	bf[1] |= 0x01
	x.PeerBitfield(id, bf)
	if d := x.ready().drops; len(d) != 1 || d[0].Reason != ReasonBadBitfield {
		t.Fatalf("drops %v", d)
	}
}

func TestAdmitRequest(t *testing.T) {
	for _, c := range []struct {
		have, choking, allowed, fast bool
		want                         RequestVerdict
	}{
		{true, false, false, true, RequestServe},
		{true, false, false, false, RequestServe},
		{true, true, true, true, RequestServe},
		{true, true, false, true, RequestReject},
		{true, true, false, false, RequestIgnore},
		{false, false, false, true, RequestReject},
		{false, false, true, false, RequestIgnore},
		{false, true, true, true, RequestReject},
	} {
		if v := AdmitRequest(c.have, c.choking, c.allowed, c.fast); v != c.want {
			t.Errorf("AdmitRequest(have %v, choking %v, allowed %v, fast %v) = %v, want %v",
				c.have, c.choking, c.allowed, c.fast, v, c.want)
		}
	}
}

func TestGreeting(t *testing.T) {
	x := newH(t, Config{NumPieces: 12})
	greeting := func(caps Caps) []Message {
		id := x.PeerConnected(caps)
		var out []Message
		for _, m := range x.Ready().Messages {
			if m.Peer == id {
				out = append(out, m)
			}
		}
		return out
	}
	kinds := func(ms []Message) []MsgKind {
		var k []MsgKind
		for _, m := range ms {
			k = append(k, m.Kind)
		}
		return k
	}
	if g := greeting(Caps{Fast: true}); !slices.Equal(kinds(g), []MsgKind{MsgHaveNone}) {
		t.Fatalf("fast peer, nothing had: %v", kinds(g))
	}
	if g := greeting(Caps{}); len(g) != 0 {
		t.Fatalf("plain peer, nothing had: %v", kinds(g))
	}
	x.SetHave(3)
	x.SetHave(5)
	// Allowed fast: only pieces we have, only to fast peers, at most
	// AllowedFastCount.
	g := greeting(Caps{Fast: true, AllowedFast: []uint32{5, 1, 3, 99}})
	if !slices.Equal(kinds(g), []MsgKind{MsgBitfield, MsgAllowedFast, MsgAllowedFast}) || g[1].Piece != 5 || g[2].Piece != 3 {
		t.Fatalf("fast peer, some had: %+v", g)
	}
	if g := greeting(Caps{AllowedFast: []uint32{5}}); !slices.Equal(kinds(g), []MsgKind{MsgBitfield}) {
		t.Fatalf("plain peer, some had: %v", kinds(g))
	}
	for i := range 12 {
		x.SetHave(uint32(i))
	}
	var many []uint32
	for i := range 12 {
		many = append(many, uint32(i))
	}
	g = greeting(Caps{Fast: true, AllowedFast: many})
	if len(g) != 1+AllowedFastCount || g[0].Kind != MsgHaveAll {
		t.Fatalf("fast peer, all had: %v", kinds(g))
	}
}

func TestRepeatedAvailabilityAdds(t *testing.T) {
	x := newH(t, Config{NumPieces: 10})
	id := x.PeerConnected(Caps{Fast: true})
	x.Ready()
	x.PeerHaveNone(id)
	bf := make([]byte, 2)
	bf[0] = 0x80 // piece 0
	x.PeerBitfield(id, bf)
	bf[0] = 0xc0 // pieces 0 and 1
	x.PeerBitfield(id, bf)
	x.PeerHaveAll(id)
	x.PeerBitfield(id, full(10))
	b := x.ready()
	if len(b.drops) != 0 {
		t.Fatalf("growing availability dropped the peer: %+v", b.drops)
	}
	if ps, _ := x.PeerStats(id); ps.Pieces != 10 {
		t.Fatalf("peer has %d pieces, want 10", ps.Pieces)
	}
	for i := range 10 {
		if x.avail[i] != 0 {
			t.Fatalf("a seed counted in piece %d's availability", i)
		}
	}
}

func TestEvictable(t *testing.T) {
	x := newH(t, Config{NumPieces: 10, SilentGrace: 5 * time.Second, IdleGrace: time.Minute})
	x.Tick(0)
	talker := x.PeerConnected(Caps{Fast: true})
	x.PeerHaveNone(talker)
	x.Tick(time.Second)
	silent := x.PeerConnected(Caps{Fast: true})
	x.Ready()
	x.Tick(5 * time.Second)
	if id := x.Evictable(); id != NoPeer {
		t.Fatalf("evictable %v before the silent grace", id)
	}
	x.Tick(6 * time.Second)
	if id := x.Evictable(); id != silent {
		t.Fatalf("evictable %v, want the silent peer %v", id, silent)
	}
	x.PeerNotInterested(silent) // any message counts
	if id := x.Evictable(); id != NoPeer {
		t.Fatalf("evictable %v after the silent peer spoke", id)
	}
	x.Tick(61 * time.Second)
	if id := x.Evictable(); id != talker {
		t.Fatalf("evictable %v, want the longest idle peer %v", id, talker)
	}
	x.PeerInterested(talker)
	if id := x.Evictable(); id != silent {
		t.Fatalf("evictable %v, want %v (the interested peer stays)", id, silent)
	}
}

func TestHashOKBroadcastsHaveAndInterest(t *testing.T) {
	x := newH(t, Config{NumPieces: 2, MinRequests: 8})
	one := x.peerWith(0)
	b := x.ready()
	if !b.has(one, MsgInterested) {
		t.Fatal("not interested")
	}
	b = x.deliver(b.kind(one, MsgRequest))
	if len(b.hash) != 1 || b.hash[0] != 0 {
		t.Fatalf("hash %v", b.hash)
	}
	x.PieceHashed(0, true)
	x.PieceHashed(0, true) // repeated: ignored
	b = x.ready()
	if len(b.have) != 1 || b.have[0] != 0 || !b.has(one, MsgNotInterested) || b.completed {
		t.Fatalf("batch %+v", b)
	}
	if !x.HasPiece(0) || x.HasPiece(1) {
		t.Fatal("have set")
	}
	two := x.peerWith(1)
	b = x.deliver(x.ready().kind(two, MsgRequest))
	x.PieceHashed(1, true)
	if b = x.ready(); !b.completed || !x.Seeding() {
		t.Fatalf("not completed: %+v", b)
	}
	if b = x.ready(); b.completed {
		t.Fatal("Completed reported twice")
	}
}

func TestHashFailSoleContributorBanned(t *testing.T) {
	x := newH(t, Config{NumPieces: 2, RandomFirst: -1})
	bad := x.seedPeer(true)
	b := x.deliver(x.ready().kind(bad, MsgRequest))
	x.PieceHashed(b.hash[0], false)
	b = x.ready()
	if len(b.drops) != 1 || b.drops[0].Peer != bad || !b.drops[0].Ban || b.drops[0].Reason != ReasonBadData {
		t.Fatalf("drops %+v", b.drops)
	}
	if st := x.Stats(); st.HashFails != 1 || st.Wasted != 4*BlockSize || st.Have != 0 {
		t.Fatalf("stats %+v", st)
	}
	good := x.seedPeer(true)
	if got := len(x.ready().kind(good, MsgRequest)); got != 4 {
		t.Fatalf("failed piece not re-requested: %d requests", got)
	}
}

func TestHashFailStrikes(t *testing.T) {
	x := newH(t, Config{NumPieces: 8, BanStrikes: 2, MinRequests: 2, MaxRequests: 2, RandomFirst: -1})
	a := x.PeerConnected(Caps{})
	x.PeerBitfield(a, full(8))
	c := x.PeerConnected(Caps{})
	x.PeerBitfield(c, full(8))
	x.ready()
	for round := 1; round <= 2; round++ {
		// a sends half a piece and chokes us; c finishes the orphaned
		// piece. Both contributed to it: both get a strike.
		x.PeerUnchoke(a)
		half := x.ready().kind(a, MsgRequest)
		if len(half) != 2 {
			t.Fatalf("round %d: a got %v", round, half)
		}
		x.deliver(half)
		x.PeerChoke(a)
		x.ready()
		x.PeerUnchoke(c)
		rest := x.ready().kind(c, MsgRequest)
		if len(rest) != 2 || rest[0].Piece != half[0].Piece {
			t.Fatalf("round %d: c requested %v, want the rest of piece %d", round, rest, half[0].Piece)
		}
		b := x.deliver(rest)
		if len(b.hash) != 1 {
			t.Fatalf("hash %v", b.hash)
		}
		x.PieceHashed(b.hash[0], false)
		x.PeerChoke(c)
		b = x.ready()
		if round == 1 && len(b.drops) != 0 {
			t.Fatalf("round 1 drops %+v", b.drops)
		}
		if round == 2 && (len(b.drops) != 2 || !b.drops[0].Ban || !b.drops[1].Ban) {
			t.Fatalf("round 2 drops %+v, want both banned", b.drops)
		}
	}
	if ps, ok := x.PeerStats(a); ok {
		t.Fatalf("banned peer still listed: %+v", ps)
	}
}

// A peer that answers most requests but silently drops one is not snubbed,
// but the dropped request is cancelled after SnubTimeout and its block
// returns to the pool.
func TestDroppedRequestExpires(t *testing.T) {
	x := newH(t, Config{NumPieces: 64, SnubTimeout: 20 * time.Second, MinRequests: 4, MaxRequests: 4})
	id := x.seedPeer(true)
	pending := x.ready().kind(id, MsgRequest)
	dropped := pending[1]
	pending = append(pending[:1], pending[2:]...)
	var cancels []Message
	for s := 0; s < 25; s++ {
		n := min(2, len(pending))
		b := x.deliver(pending[:n])
		pending = append(pending[n:], b.kind(id, MsgRequest)...)
		for _, h := range b.hash {
			x.PieceHashed(h, true)
		}
		b = x.tick(time.Second)
		cancels = append(cancels, b.kind(id, MsgCancel)...)
		pending = append(pending, b.kind(id, MsgRequest)...)
		if ps, _ := x.PeerStats(id); ps.Snubbed {
			t.Fatalf("peer snubbed at %ds although it answers", s)
		}
		if s < 19 && len(cancels) > 0 {
			t.Fatalf("cancel at %ds, before the timeout: %v", s, cancels)
		}
	}
	if len(cancels) != 1 || cancels[0].Piece != dropped.Piece || cancels[0].Begin != dropped.Begin {
		t.Fatalf("cancels %v, want one for the dropped %v", cancels, dropped)
	}
	// The block was requested again.
	again := false
	for _, m := range pending {
		again = again || (m.Piece == dropped.Piece && m.Begin == dropped.Begin)
	}
	if !again && x.state[dropped.Piece] != stHave && x.state[dropped.Piece] != stHashing {
		t.Fatalf("dropped block %v not requested again", dropped)
	}
}

// After a piece with two contributors fails, it is fetched again from one
// peer only (no help from others, no end game duplicates), so a second
// failure names the culprit.
func TestFailedPieceRefetchedFromOnePeer(t *testing.T) {
	x := newH(t, Config{NumPieces: 1, MinRequests: 2, MaxRequests: 2})
	a := x.PeerConnected(Caps{})
	x.PeerBitfield(a, full(1))
	c := x.PeerConnected(Caps{})
	x.PeerBitfield(c, full(1))
	x.PeerUnchoke(a)
	x.deliver(x.ready().kind(a, MsgRequest))
	x.PeerChoke(a)
	x.PeerUnchoke(c)
	b := x.deliver(x.ready().kind(c, MsgRequest))
	x.PieceHashed(b.hash[0], false)
	if b = x.ready(); len(b.drops) != 0 {
		t.Fatalf("drops %v after a first shared failure", b.drops)
	}
	rc := b.kind(c, MsgRequest)
	x.PeerUnchoke(a)
	ra := x.ready().kind(a, MsgRequest)
	if len(ra)+len(rc) != 2 || len(ra) != 0 && len(rc) != 0 {
		t.Fatalf("suspect piece requested from both peers: a %v, c %v", ra, rc)
	}
	owner, reqs := a, ra
	if len(rc) > 0 {
		owner, reqs = c, rc
	}
	b = x.deliver(reqs)
	if got := append(b.kind(a, MsgRequest), b.kind(c, MsgRequest)...); len(got) != 2 || got[0].Peer != owner || got[1].Peer != owner {
		t.Fatalf("second half requested as %v, want both from %v", got, owner)
	}
	b = x.deliver(b.kind(owner, MsgRequest))
	x.PieceHashed(b.hash[0], false)
	b = x.ready()
	if len(b.drops) != 1 || b.drops[0].Peer != owner || !b.drops[0].Ban {
		t.Fatalf("drops %+v, want the sole contributor %v banned", b.drops, owner)
	}
}

// The only peer drops one request: after SnubTimeout the request is
// cancelled and made again (to the same peer, the only one that has it),
// so the download cannot stall.
func TestDroppedRequestRetriedAlone(t *testing.T) {
	x := newH(t, Config{NumPieces: 1, SnubTimeout: 20 * time.Second})
	id := x.seedPeer(true)
	reqs := x.ready().kind(id, MsgRequest)
	x.deliver(reqs[:3])
	for range 19 {
		if b := x.tick(time.Second); len(b.msgs) != 0 {
			t.Fatalf("messages before the timeout: %v", b.msgs)
		}
	}
	b := x.tick(time.Second)
	if len(b.kind(id, MsgCancel)) != 1 || len(b.kind(id, MsgRequest)) != 1 || b.kind(id, MsgRequest)[0].Begin != reqs[3].Begin {
		t.Fatalf("batch %v: want a cancel and a new request for block %d", b.msgs, reqs[3].Begin)
	}
}

// TestChatterFloodDrops: messages that move nothing forward are capped
// per second; the cap resets at the first Tick a second or more after the
// last reset, however often the shell ticks.
func TestChatterFloodDrops(t *testing.T) {
	x := newH(t, Config{NumPieces: 10, MaxChatter: 50})
	x.Tick(0)
	id := x.PeerConnected(Caps{Fast: true})
	x.PeerHave(id, 1)
	for range 25 {
		x.PeerChoke(id)
		x.PeerUnchoke(id)
	}
	x.Tick(time.Second)
	for range 24 {
		x.PeerHave(id, 1) // repeated: chatter too
		x.PeerInterested(id)
	}
	x.Tick(time.Second + 500*time.Millisecond) // a faster Tick: no reset
	x.PeerHave(id, 1)
	x.PeerInterested(id)
	if d := x.ready().drops; len(d) != 0 {
		t.Fatalf("dropped at the cap: %+v", d)
	}
	x.PeerNotInterested(id)
	if d := x.ready().drops; len(d) != 1 || d[0].Reason != ReasonFlood {
		t.Fatalf("drops %+v, want one for a flood", d)
	}
}
