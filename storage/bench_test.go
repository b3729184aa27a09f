package storage

import (
	"context"
	"crypto/sha1"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports, besides ns/op, the CPU time the process spent: MB
// hashed per CPU-second (efficiency per core, little affected by other
// load on the machine) and the cores used on average (CPU time / wall time).
type cpuMeter struct {
	wall time.Time
	cpu  time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuMeter { return cpuMeter{wall: time.Now(), cpu: cpuTime()} }

func (m cpuMeter) report(b *testing.B, bytesPerOp int64) {
	cpu := (cpuTime() - m.cpu).Seconds()
	wall := time.Since(m.wall).Seconds()
	b.ReportMetric(float64(bytesPerOp)*float64(b.N)/cpu/1e6, "MB/cpu-s")
	b.ReportMetric(cpu/wall, "cores")
}

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
	b.ResetTimer()
	m := startCPU()
	for range b.N {
		have, err := s.Check(context.Background(), nil)
		if err != nil || !have.Complete() {
			b.Fatal(err)
		}
	}
	m.report(b, benchTotal)
}

// BenchmarkSHA1Cores is the baseline for BenchmarkCheck: bare crypto/sha1
// over the same 32 MiB, piece by piece, on GOMAXPROCS goroutines.
func BenchmarkSHA1Cores(b *testing.B) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: benchTotal})
	n := len(fx.layout.Hashes)
	b.SetBytes(benchTotal)
	b.ResetTimer()
	m := startCPU()
	for range b.N {
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
	m.report(b, benchTotal)
}

// BenchmarkSHA1OneCore is crypto/sha1 on one goroutine, to show how much
// the machine gives a second core.
func BenchmarkSHA1OneCore(b *testing.B) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: benchTotal})
	b.SetBytes(benchTotal)
	b.ResetTimer()
	m := startCPU()
	for range b.N {
		for i := range fx.layout.Hashes {
			if sha1.Sum(fx.piece(i)) != fx.layout.Hashes[i] {
				b.Fatal("hash")
			}
		}
	}
	m.report(b, benchTotal)
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

// BenchmarkOpenSSLDgst runs `openssl dgst -sha1` over the same 32 MiB file
// (one core, plain read(2) into a buffer, like Check's pread) and reports
// the child's MB per CPU-second: Check's MB/cpu-s over this figure is its
// throughput per core used relative to OpenSSL.
func BenchmarkOpenSSLDgst(b *testing.B) {
	bin, err := exec.LookPath("openssl")
	if err != nil {
		b.Skip("openssl not installed")
	}
	fx := newFixture(b, benchPiece, fspec{path: "a", length: benchTotal})
	dir := b.TempDir()
	s := open(b, dir, fx, Options{})
	writeAll(b, s, fx)
	b.SetBytes(benchTotal)
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		cmd := exec.Command(bin, "dgst", "-sha1", filepath.Join(dir, "a"))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	b.ReportMetric(float64(benchTotal)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
}

// BenchmarkWriteBlocks writes a 256 KiB piece held as 16 blocks of 16 KiB
// with WriteBlocksAt (one pwritev); BenchmarkWriteBlocksEach does it with
// one WriteAt per block, as a caller without WriteBlocksAt would.
func BenchmarkWriteBlocks(b *testing.B) { benchBlocks(b, true) }

func BenchmarkWriteBlocksEach(b *testing.B) { benchBlocks(b, false) }

func benchBlocks(b *testing.B, vectored bool) {
	fx := newFixture(b, benchPiece, fspec{path: "a", length: 8 << 20})
	s := open(b, b.TempDir(), fx, Options{})
	n := s.NumPieces()
	b.SetBytes(benchPiece)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := i % n
		blocks := splitBlocks(fx.piece(p), 16<<10)
		off := int64(p) * benchPiece
		if vectored {
			if _, err := s.WriteBlocksAt(blocks, off); err != nil {
				b.Fatal(err)
			}
		} else {
			for _, blk := range blocks {
				if _, err := s.WriteAt(blk, off); err != nil {
					b.Fatal(err)
				}
				off += int64(len(blk))
			}
		}
		i++
	}
}
