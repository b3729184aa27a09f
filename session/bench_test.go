package session

import (
	"context"
	"crypto/sha1"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// BenchmarkLoopbackTransfer: an Effusion seeder and leecher in one
// process, over loopback TCP, 1 MiB pieces. Bytes/s is the payload rate
// from Start of the leecher to every piece verified on disk.
// EFFUSION_BENCH_MIB sets the payload size (default 64).
func BenchmarkLoopbackTransfer(b *testing.B) {
	mib := 64
	if v := os.Getenv("EFFUSION_BENCH_MIB"); v != "" {
		if _, err := fmt.Sscan(v, &mib); err != nil {
			b.Fatal(err)
		}
	}
	seedDir := b.TempDir()
	data := randomData(7, mib<<20)
	mi, _ := makeTorrent(b, seedDir, "payload.bin", 1<<20, "", testFile{data: data})
	seeder := startSession(b, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(b, seeder, time.Minute)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "leech")
		b.StartTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		l, err := Start(ctx, Config{Torrent: mi, Dir: dir, ListenAddr: "127.0.0.1:0",
			Peers: []netip.AddrPort{loopback(seeder)}, Logger: testLogger(b)})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Await(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		l.Stop(ctx)
		cancel()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

// BenchmarkReceivePath measures one block's way from the socket to a
// verified piece without the network or the disk: a peer's reader decodes
// piece messages from an in-memory stream into pooled blocks, and a sink
// files them under their piece and hashes each complete piece, as the
// session and hasher do. allocs/op is per 16 KiB block.
func BenchmarkReceivePath(b *testing.B) {
	const pieceLen = 1 << 20
	const blocksPer = pieceLen / peerwire.BlockSize
	// One piece of frames, replayed.
	payload := randomData(3, pieceLen)
	var frames []byte
	for k := range blocksPer {
		frames = peerwire.AppendPiece(frames, 0, uint32(k*peerwire.BlockSize), payload[k*peerwire.BlockSize:(k+1)*peerwire.BlockSize])
	}
	want := sha1.Sum(payload)
	env := testEnv(b)
	f := testFacts(env, 1, pieceLen, pieceLen, nil)
	sink := &hashingSink{want: want, blocks: make([]*block, blocksPer), done: make(chan struct{}), pool: env.blocks}
	src := &replay{frames: frames, n: b.N}
	a, c := net.Pipe()
	defer c.Close()
	p := newPeer(a, netip.AddrPort{}, peerwire.Handshake{}, f.ourHandshake(), f, sink, false)
	sink.n = b.N
	b.SetBytes(peerwire.BlockSize)
	b.ReportAllocs()
	b.ResetTimer()
	r := peerwire.NewReader(src, peerwire.ReaderOptions{NumPieces: 1})
	err := p.readLoop(r)
	b.StopTimer()
	if err != io.EOF {
		b.Fatal(err)
	}
	if sink.bad > 0 {
		b.Fatalf("%d pieces failed verification", sink.bad)
	}
	p.close(nil)
}

// replay yields frames over and over, n blocks in all, then io.EOF.
type replay struct {
	frames []byte
	off    int
	n      int // blocks left
}

func (r *replay) Read(p []byte) (int, error) {
	if r.n <= 0 && r.off == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.frames[r.off:])
	// count whole frames consumed as blocks
	r.off += n
	if r.off == len(r.frames) {
		r.off = 0
		r.n -= len(r.frames) / (13 + peerwire.BlockSize)
	}
	return n, nil
}

// hashingSink files blocks and hashes complete pieces inline.
type hashingSink struct {
	want   [20]byte
	blocks []*block
	got    int
	n      int
	bad    int
	done   chan struct{}
	h      hash.Hash
	pool   *blockPool
	sum    [sha1.Size]byte
}

func (s *hashingSink) post(e event) bool {
	if b, ok := e.(*block); ok {
		s.handleBlock(b)
	}
	return true
}

func (s *hashingSink) handleBlock(b *block) {
	k := b.begin / peerwire.BlockSize
	s.blocks[k] = b
	s.got++
	if s.got == len(s.blocks) {
		s.got = 0
		if s.h == nil {
			s.h = sha1.New()
		}
		h := s.h
		h.Reset()
		for i, blk := range s.blocks {
			h.Write(blk.bytes())
			s.pool.put(blk)
			s.blocks[i] = nil
		}
		if [20]byte(h.Sum(s.sum[:0])) != s.want {
			s.bad++
		}
	}
}

// BenchmarkSHA1Baseline is the floor of BenchmarkReceivePath: hashing one
// 16 KiB block, nothing else. The ratio of the two is the receive path's
// overhead over the unavoidable hashing.
func BenchmarkSHA1Baseline(b *testing.B) {
	blk := randomData(3, peerwire.BlockSize)
	h := sha1.New()
	var sum [sha1.Size]byte
	b.SetBytes(peerwire.BlockSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%64 == 0 {
			h.Sum(sum[:0])
			h.Reset()
		}
		h.Write(blk)
	}
}
