package metainfo

import (
	"context"
	"crypto/sha1"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user+system CPU time this process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds throughput per CPU-second ("MB/cpu-s", robust when the
// machine is shared) and the cores used (CPU time / wall time).
func reportCPU(b *testing.B, bytes int64, cpu, wall time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(bytes)*n/1e6/cpu.Seconds(), "MB/cpu-s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
}

// BenchmarkBuild hashes a 64 MiB file (in the page cache after the first
// run) with one and two workers. Baselines in the same run: "sha1-mem" is
// crypto/sha1 over the same bytes in memory on one goroutine, "openssl" is
// `openssl dgst -sha1` on the same file (its CPU time from rusage). Compare
// MB/cpu-s for the per-core ratio and "cores" for the parallelism.
func BenchmarkBuild(b *testing.B) {
	const size = 64 << 20
	path := filepath.Join(b.TempDir(), "payload")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, w := range []struct {
		name    string
		workers int
	}{{"workers-1", 1}, {"workers-2", 2}} {
		b.Run(w.name, func(b *testing.B) {
			b.SetBytes(size)
			start, cpu0 := time.Now(), cpuTime(b)
			for b.Loop() {
				if _, _, err := Build(context.Background(), path, BuildOptions{PieceLength: 1 << 20, Workers: w.workers, NoDate: true}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, size, cpuTime(b)-cpu0, time.Since(start))
		})
	}
	b.Run("sha1-mem", func(b *testing.B) {
		b.SetBytes(size)
		start, cpu0 := time.Now(), cpuTime(b)
		for b.Loop() {
			for off := 0; off < size; off += 1 << 20 {
				sha1.Sum(data[off : off+1<<20])
			}
		}
		reportCPU(b, size, cpuTime(b)-cpu0, time.Since(start))
	})
	b.Run("openssl", func(b *testing.B) {
		openssl, err := exec.LookPath("openssl")
		if err != nil {
			b.Skip("openssl not installed")
		}
		b.SetBytes(size)
		var cpu time.Duration
		start := time.Now()
		for b.Loop() {
			cmd := exec.Command(openssl, "dgst", "-sha1", path)
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		reportCPU(b, size, cpu, time.Since(start))
	})
}

// BenchmarkParse65536 parses a 65,536-piece torrent end to end (bencode,
// checks, SHA-1 of the 1.3 MB info dictionary).
func BenchmarkParse65536(b *testing.B) {
	info := map[string]any{"name": "big", "length": int64(65536) << 18, "piece length": int64(1 << 18), "pieces": hashes(65536)}
	data := mkTorrent(b, info)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
