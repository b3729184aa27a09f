package core

import "testing"

// Two peers share a piece; one of them corrupts a block. The failure gives
// both a strike; when the piece verifies later, the block digests show who
// lied: that peer is banned, the other is forgiven.
func TestSmartBan(t *testing.T) {
	x := newH(t, Config{NumPieces: 2, MinRequests: 2, MaxRequests: 2, BanStrikes: 3, RandomFirst: -1})
	a := x.PeerConnected(Caps{})
	x.PeerBitfield(a, full(2))
	c := x.PeerConnected(Caps{})
	x.PeerBitfield(c, full(2))
	x.PeerUnchoke(a)
	half := x.ready().kind(a, MsgRequest)
	x.deliver(half)
	x.PeerChoke(a)
	x.PeerUnchoke(c)
	b := x.deliver(x.ready().kind(c, MsgRequest))
	piece := b.hash[0]
	good := []uint64{10, 11, 12, 13}
	bad := []uint64{10, 11, 666, 13} // c's first block was corrupt
	x.PieceHashedDigests(piece, false, bad)
	if b = x.ready(); len(b.drops) != 0 {
		t.Fatalf("drops %v after a shared failure", b.drops)
	}
	if !x.NeedDigests(piece) {
		t.Fatal("no digests wanted for a failed piece")
	}
	for _, id := range []PeerID{a, c} {
		if ps, _ := x.PeerStats(id); ps.Strikes != 1 {
			t.Fatalf("%v strikes %d", id, ps.Strikes)
		}
	}
	// a fetches the piece alone (c chokes us) and it verifies.
	x.PeerChoke(c)
	x.PeerUnchoke(a)
	reqs := x.ready().kind(a, MsgRequest)
	for len(b.hash) == 0 || b.hash[0] != piece {
		if len(reqs) == 0 || reqs[0].Piece != piece {
			t.Fatalf("a requested %v, want piece %d", reqs, piece)
		}
		b = x.deliver(reqs)
		reqs = b.kind(a, MsgRequest)
	}
	x.PieceHashedDigests(piece, true, good)
	b = x.ready()
	if len(b.drops) != 1 || b.drops[0].Peer != c || !b.drops[0].Ban || b.drops[0].Reason != ReasonBadData {
		t.Fatalf("drops %+v, want %v banned", b.drops, c)
	}
	if ps, _ := x.PeerStats(a); ps.Strikes != 0 {
		t.Fatalf("innocent peer keeps %d strikes", ps.Strikes)
	}
	if x.NeedDigests(piece) || len(x.fails) != 0 {
		t.Fatal("failure record kept after verification")
	}
}

func TestSmartBanRecordsBounded(t *testing.T) {
	x := newH(t, Config{NumPieces: 200})
	r := &record{blocks: make([]block, 4)}
	for i := range uint32(200) {
		x.rememberFailure(i, r, []uint64{1, 2, 3, 4})
		if len(x.fails) > maxFailRecords {
			t.Fatalf("%d failure records", len(x.fails))
		}
	}
	if x.NeedDigests(0) || !x.NeedDigests(199) || !x.NeedDigests(200-maxFailRecords) {
		t.Fatal("oldest records not evicted first")
	}
}
