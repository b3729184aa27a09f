package swarm

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/effusion-bt/effusion/internal/swarm/ceiling"
)

// The swarm benchmarks report MB/s of payload downloaded (all leechers
// together); BenchmarkCeilingBaseline is the same machine's protocol-free
// ceiling in the same run, so that their ratio is Effusion's fraction of it:
//
//	go test -run XXX -bench . -benchtime 3x ./internal/swarm/

const benchSize = 64 << 20

func benchSwarm(b *testing.B, leechers int) {
	b.SetBytes(benchSize * int64(leechers))
	for b.Loop() {
		res, err := Run(context.Background(), Config{
			Size: benchSize, PieceLength: 1 << 20, Leechers: leechers, Dir: b.TempDir(),
		})
		if err != nil {
			b.Fatal(err)
		}
		// Set-up (payload, torrent, seeder check) is not the transfer.
		b.ReportMetric(float64(benchSize*int64(leechers))/res.Elapsed.Seconds()/1e6, "transfer-MB/s")
		b.ReportMetric(res.CPU.Seconds()/(float64(benchSize*int64(leechers))/(1<<30)), "cpu-s/GiB")
	}
}

// BenchmarkPair is one seeder and one leecher, in one process.
func BenchmarkPair(b *testing.B) { benchSwarm(b, 1) }

// BenchmarkSwarm4 is one seeder and four leechers.
func BenchmarkSwarm4(b *testing.B) { benchSwarm(b, 4) }

// BenchmarkCeilingBaseline moves the same payload with no protocol at all.
func BenchmarkCeilingBaseline(b *testing.B) {
	dir := b.TempDir()
	pl, err := makePayload(dir, "p", benchSize, 1)
	if err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(dir, "copy")
	defer os.Remove(dst)
	b.SetBytes(benchSize)
	for b.Loop() {
		res, err := ceiling.Run(context.Background(), pl.path, dst, 1<<20, 2)
		if err != nil || res.BadPiece >= 0 {
			b.Fatal(err, res.BadPiece)
		}
		b.ReportMetric(res.Throughput()/1e6, "transfer-MB/s")
		b.ReportMetric(res.CPU.Seconds()/(float64(benchSize)/(1<<30)), "cpu-s/GiB")
	}
}
