package storage

import (
	"context"
	"crypto/sha1"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

const (
	benchPiece = 256 << 10
	benchTotal = 32 << 20
)

// BenchmarkCheck hashes a 32 MiB torrent already on disk (in the page
// cache) with Check on all cores. Compare its MB/s with BenchmarkSHA1Cores,
// crypto/sha1 over the same bytes in memory on as many goroutines as Check
// has workers: the ratio is Check's efficiency per core.
func BenchmarkCheck(b *testing.B) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: benchTotal / 2}, fspec{path: "b", length: benchTotal / 2})
	s := open(b, b.TempDir(), fx, Options{})
	writeAll(b, s, fx)
	b.SetBytes(benchTotal)
	b.ReportAllocs()
	for b.Loop() {
		have, err := s.Check(context.Background(), nil)
		if err != nil || !have.Complete() {
			b.Fatal(err)
		}
	}
}

// BenchmarkSHA1Cores is the baseline for BenchmarkCheck: bare crypto/sha1
// over the same 32 MiB, piece by piece, on GOMAXPROCS goroutines.
func BenchmarkSHA1Cores(b *testing.B) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: benchTotal})
	n := len(fx.layout.Hashes)
	b.SetBytes(benchTotal)
	for b.Loop() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
					if sha1.Sum(fx.piece(i)) != fx.layout.Hashes[i] {
						panic("hash")
					}
				}
			}()
		}
		wg.Wait()
	}
}

// BenchmarkSHA1OneCore is crypto/sha1 on one goroutine, to show how much
// the machine gives a second core.
func BenchmarkSHA1OneCore(b *testing.B) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: benchTotal})
	b.SetBytes(benchTotal)
	for b.Loop() {
		for i := range fx.layout.Hashes {
			if sha1.Sum(fx.piece(i)) != fx.layout.Hashes[i] {
				b.Fatal("hash")
			}
		}
	}
}

// BenchmarkWritePiece writes 256 KiB pieces spanning two files (page
// cache, no fsync); BenchmarkWriteAtBaseline writes the same bytes with
// one os.File.WriteAt per piece.
func BenchmarkWritePiece(b *testing.B) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: 4<<20 + 1000}, fspec{path: "b", length: 4 << 20})
	s := open(b, b.TempDir(), fx, Options{})
	n := s.NumPieces()
	b.SetBytes(benchPiece)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.WritePiece(i%(n-1), fx.piece(i%(n-1))); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkWriteAtBaseline(b *testing.B) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: 8 << 20})
	f, err := os.Create(filepath.Join(b.TempDir(), "a"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n := len(fx.layout.Hashes)
	b.SetBytes(benchPiece)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := f.WriteAt(fx.piece(i%n), int64(i%n)*benchPiece); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
