package core

import (
	"testing"
	"time"
)

// In steady state (pipelines full, records pooled) answering a block,
// verifying pieces and refilling pipelines allocates nothing.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const n, peers = 4096, 20
	tor, err := New(Config{NumPieces: n, PieceLength: 256 << 10, TotalLength: n * 256 << 10,
		MinRequests: 8, MaxRequests: 8, RandomFirst: -1})
	if err != nil {
		t.Fatal(err)
	}
	tor.Tick(0)
	ids := make([]PeerID, peers)
	for i := range ids {
		ids[i] = tor.PeerConnected(Caps{Fast: true})
		if i%2 == 0 {
			tor.PeerHaveAll(ids[i])
		} else {
			tor.PeerBitfield(ids[i], bitfieldOf(n, evens(n)...))
		}
		tor.PeerUnchoke(ids[i])
	}
	q := &fifo{buf: make([]benchReq, peers*8+1)}
	slot := map[PeerID]int{}
	for i, id := range ids {
		slot[id] = i
	}
	step := func() {
		r := q.pop()
		tor.BlockReceived(ids[r.peer], r.piece, r.block*BlockSize, BlockSize, nil)
		for rd := tor.Ready(); !rd.Empty(); rd = tor.Ready() {
			for _, m := range rd.Messages {
				if m.Kind == MsgRequest {
					q.push(benchReq{slot[m.Peer], m.Piece, m.Begin / BlockSize})
				}
			}
			for _, h := range rd.Hash {
				tor.PieceHashed(h, true)
			}
		}
	}
	for _, m := range tor.Ready().Messages {
		if m.Kind == MsgRequest {
			q.push(benchReq{slot[m.Peer], m.Piece, m.Begin / BlockSize})
		}
	}
	for range 2000 { // warm up: records, lists and batches reach their size
		step()
	}
	if a := testing.AllocsPerRun(5000, step); a != 0 {
		t.Fatalf("%v allocations per block", a)
	}
	if err := tor.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if tor.Stats().Have < 400 {
		t.Fatalf("only %d pieces verified", tor.Stats().Have)
	}
}

func evens(n int) []uint32 {
	var out []uint32
	for i := 0; i < n; i += 2 {
		out = append(out, uint32(i))
	}
	return out
}

// The same with a reader streaming through the torrent: its window moves
// forward as pieces verify (SetReader on every block, as after every read),
// Ticks come every 100 ms and it seeks now and then (cancels, duplicates,
// deadline picks), and still nothing is allocated.
func TestSteadyStateStreamingAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const n, peers, plen = 4096, 20, 256 << 10
	tor, err := New(Config{NumPieces: n, PieceLength: plen, TotalLength: n * plen,
		MinRequests: 8, MaxRequests: 8, RandomFirst: -1})
	if err != nil {
		t.Fatal(err)
	}
	tor.Tick(0)
	ids := make([]PeerID, peers)
	for i := range ids {
		ids[i] = tor.PeerConnected(Caps{Fast: true})
		if i%2 == 0 {
			tor.PeerHaveAll(ids[i])
		} else {
			tor.PeerBitfield(ids[i], bitfieldOf(n, evens(n)...))
		}
		tor.PeerUnchoke(ids[i])
	}
	q := &fifo{buf: make([]benchReq, peers*64)}
	slot := map[PeerID]int{}
	for i, id := range ids {
		slot[id] = i
	}
	var now time.Duration
	pos, steps := int64(0), 0
	drain := func() {
		for rd := tor.Ready(); !rd.Empty(); rd = tor.Ready() {
			for _, m := range rd.Messages {
				if m.Kind == MsgRequest {
					q.push(benchReq{slot[m.Peer], m.Piece, m.Begin / BlockSize})
				}
			}
			for _, h := range rd.Hash {
				tor.PieceHashed(h, true)
			}
		}
	}
	step := func() {
		steps++
		r := q.pop()
		tor.BlockReceived(ids[r.peer], r.piece, r.block*BlockSize, BlockSize, nil)
		for pos < n*plen && tor.HasPiece(uint32(pos/plen)) {
			pos += 64 << 10
		}
		if steps%700 == 0 {
			pos = int64(steps*7919%n) * plen // a seek
		}
		if err := tor.SetReader(1, Window{Pos: pos, Rate: 4 << 20}); err != nil {
			t.Fatal(err)
		}
		if steps%50 == 0 {
			now += 100 * time.Millisecond
			tor.Tick(now)
		}
		drain()
	}
	if err := tor.SetReader(1, Window{Pos: 0, Rate: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	drain()
	for range 3000 { // warm up: records, lists, the deadline queue and batches reach their size
		step()
	}
	if a := testing.AllocsPerRun(5000, step); a != 0 {
		t.Fatalf("%v allocations per block", a)
	}
	if err := tor.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	st := tor.Stats()
	if st.Have < 150 || st.Preempted == 0 || st.Duplicated == 0 || st.Readers != 1 {
		t.Fatalf("stats %+v: the workload did not stream", st)
	}
}
