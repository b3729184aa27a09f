package core

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The picker benchmarks run one workload: a 65,536-piece torrent of
// 256 KiB pieces (16 blocks), 200 unchoked peers (50 seeds, 150 with a
// random half of the pieces), pipelines of 16 requests. Each operation is
// one block: the oldest outstanding request is answered, a completed piece
// is verified, and the peer's pipeline is refilled with one new pick.
const (
	benchPlen  = 256 << 10
	benchPeers = 200
	benchSeeds = 50
	benchPipe  = 16
)

// benchSizes are the piece counts benchmarked: the cost per block of the
// core must not grow with the piece count; the baseline's does.
var benchSizes = []int{4096, 65536}

type benchReq struct {
	peer  int
	piece uint32
	block uint32
}

// fifo is a fixed-capacity queue of outstanding requests (no allocation).
type fifo struct {
	buf        []benchReq
	head, size int
}

func (q *fifo) push(r benchReq) {
	q.buf[(q.head+q.size)%len(q.buf)] = r
	q.size++
}

func (q *fifo) pop() benchReq {
	r := q.buf[q.head]
	q.head = (q.head + 1) % len(q.buf)
	q.size--
	return r
}

func benchBitfields(benchPieces int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	bfs := make([][]byte, benchPeers)
	for i := range bfs {
		if i < benchSeeds {
			bfs[i] = full(benchPieces)
			continue
		}
		bf := make([]byte, benchPieces/8)
		for j := range bf {
			bf[j] = byte(rng.Uint32())
		}
		bfs[i] = bf
	}
	return bfs
}

func setupCore(b *testing.B, bfs [][]byte) (*Torrent, []PeerID, map[PeerID]int, *fifo) {
	benchPieces := len(bfs[benchSeeds]) * 8
	tor, err := New(Config{NumPieces: benchPieces, PieceLength: benchPlen, TotalLength: int64(benchPieces) * benchPlen,
		MinRequests: benchPipe, MaxRequests: benchPipe, RandomFirst: -1, Seed: 7})
	if err != nil {
		b.Fatal(err)
	}
	tor.Tick(0)
	ids := make([]PeerID, benchPeers)
	idx := map[PeerID]int{}
	for i := range ids {
		ids[i] = tor.PeerConnected(Caps{ReqQ: benchPipe})
		idx[ids[i]] = i
		tor.PeerBitfield(ids[i], bfs[i])
		tor.PeerUnchoke(ids[i])
	}
	q := &fifo{buf: make([]benchReq, 8*benchPeers*benchPipe)} // room for cancelled requests still answered
	for _, m := range tor.Ready().Messages {
		if m.Kind == MsgRequest {
			q.push(benchReq{idx[m.Peer], m.Piece, m.Begin / BlockSize})
		}
	}
	return tor, ids, idx, q
}

// BenchmarkPicker measures the cost per block of the core (pick, receipt,
// verification bookkeeping, Ready) against the linear-scan baseline.
func BenchmarkPicker(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("core/pieces=%d", n), func(b *testing.B) { benchCore(b, n) })
	}
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("naive/pieces=%d", n), func(b *testing.B) { benchNaive(b, n) })
	}
	// The same with a reader streaming from the start at 4 MiB/s (a window
	// of 80 pieces), its position moved on every block.
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("core+reader/pieces=%d", n), func(b *testing.B) { benchCoreReader(b, n, true) })
	}
}

func benchCore(b *testing.B, pieces int) { benchCoreReader(b, pieces, false) }

func benchCoreReader(b *testing.B, pieces int, reading bool) {
	bfs := benchBitfields(pieces)
	tor, ids, idx, q := setupCore(b, bfs)
	var pos int64
	read := func() {
		for pos < int64(pieces)*benchPlen && tor.HasPiece(uint32(pos/benchPlen)) {
			pos += 64 << 10
		}
		if err := tor.SetReader(1, Window{Pos: pos, Rate: 4 << 20}); err != nil {
			b.Fatal(err)
		}
	}
	if reading {
		read()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if q.size == 0 {
			b.StopTimer()
			tor, ids, idx, q = setupCore(b, bfs)
			pos = 0
			b.StartTimer()
		}
		r := q.pop()
		tor.BlockReceived(ids[r.peer], r.piece, r.block*BlockSize, BlockSize, nil)
		if reading {
			read()
		}
		for rd := tor.Ready(); !rd.Empty(); rd = tor.Ready() {
			for _, m := range rd.Messages {
				if m.Kind == MsgRequest {
					q.push(benchReq{idx[m.Peer], m.Piece, m.Begin / BlockSize})
				}
			}
			for _, h := range rd.Hash {
				tor.PieceHashed(h, true)
			}
		}
	}
}

// naivePicker is the baseline: the same policy (current piece, then partial
// pieces, then rarest) found by a linear scan over all pieces whenever a
// peer needs a new piece.
type naivePicker struct {
	avail []int
	has   [][]bool
	free  [][]bool // per piece, per block: not requested
	nfree []int
	done  []bool
	recv  []int
	cur   []int
}

func newNaive(bfs [][]byte) *naivePicker {
	benchPieces := len(bfs[benchSeeds]) * 8
	nb := benchPlen / BlockSize
	p := &naivePicker{avail: make([]int, benchPieces), free: make([][]bool, benchPieces),
		nfree: make([]int, benchPieces), done: make([]bool, benchPieces), recv: make([]int, benchPieces),
		cur: make([]int, benchPeers)}
	for i := range p.free {
		p.free[i] = make([]bool, nb)
		for j := range p.free[i] {
			p.free[i][j] = true
		}
		p.nfree[i] = nb
	}
	for k, bf := range bfs {
		h := make([]bool, benchPieces)
		for i := range h {
			h[i] = bf[i/8]&(0x80>>(i%8)) != 0
			if h[i] {
				p.avail[i]++
			}
		}
		p.has = append(p.has, h)
		p.cur[k] = -1
	}
	return p
}

func (p *naivePicker) take(peer, i int) (uint32, uint32) {
	for b, f := range p.free[i] {
		if f {
			p.free[i][b] = false
			p.nfree[i]--
			p.cur[peer] = i
			return uint32(i), uint32(b)
		}
	}
	panic("no free block")
}

func (p *naivePicker) pick(peer int) (uint32, uint32, bool) {
	if c := p.cur[peer]; c >= 0 && p.nfree[c] > 0 {
		pc, b := p.take(peer, c)
		return pc, b, true
	}
	best, bestAvail, bestPartial := -1, 1<<30, false
	nb := benchPlen / BlockSize
	for i := range p.avail {
		if p.done[i] || p.nfree[i] == 0 || !p.has[peer][i] {
			continue
		}
		partial := p.nfree[i] < nb
		if (partial && !bestPartial) || (partial == bestPartial && p.avail[i] < bestAvail) {
			best, bestAvail, bestPartial = i, p.avail[i], partial
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	pc, b := p.take(peer, best)
	return pc, b, true
}

func benchNaive(b *testing.B, pieces int) {
	bfs := benchBitfields(pieces)
	setup := func() (*naivePicker, *fifo) {
		p := newNaive(bfs)
		q := &fifo{buf: make([]benchReq, benchPeers*benchPipe+1)}
		for peer := range benchPeers {
			for range benchPipe {
				if pc, bl, ok := p.pick(peer); ok {
					q.push(benchReq{peer, pc, bl})
				}
			}
		}
		return p, q
	}
	p, q := setup()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if q.size == 0 {
			b.StopTimer()
			p, q = setup()
			b.StartTimer()
		}
		r := q.pop()
		p.recv[r.piece]++
		if p.recv[r.piece] == len(p.free[r.piece]) {
			p.done[r.piece] = true
		}
		if pc, bl, ok := p.pick(r.peer); ok {
			q.push(benchReq{r.peer, pc, bl})
		}
	}
}

// BenchmarkPeerHave measures one HAVE (availability +1, the piece moved
// between buckets, interest updated) plus its share of the peer's later
// departure (availability -1): constant in the piece count.
func BenchmarkPeerHave(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("pieces=%d", n), func(b *testing.B) {
			tor, err := New(Config{NumPieces: n, PieceLength: benchPlen, TotalLength: int64(n) * benchPlen, Seed: 3})
			if err != nil {
				b.Fatal(err)
			}
			tor.Tick(0)
			for range 50 { // background availability
				id := tor.PeerConnected(Caps{})
				tor.PeerBitfield(id, full(n))
			}
			order := rand.New(rand.NewPCG(5, 6)).Perm(n)
			id := tor.PeerConnected(Caps{})
			k := 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if k == n {
					tor.PeerGone(id)
					id = tor.PeerConnected(Caps{})
					k = 0
				}
				tor.PeerHave(id, uint32(order[k]))
				k++
			}
		})
	}
}
