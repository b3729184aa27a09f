package webseed

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/effusion-bt/effusion/metainfo"
)

const benchSize = 256 << 20

// benchServer writes a 256 MiB file and serves it with http.FileServer on
// loopback. The info's hashes are zeros: the benchmark measures fetching,
// not hashing.
func benchServer(b *testing.B, pieceLen int64) (*metainfo.Info, string) {
	b.Helper()
	dir := b.TempDir()
	chunk := randomData(1, 1<<20)
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		b.Fatal(err)
	}
	for range benchSize >> 20 {
		f.Write(chunk)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	srv, _ := serve(b, http.FileServer(http.Dir(dir)))
	info := &metainfo.Info{Name: "big.bin", PieceLength: pieceLen, Pieces: make([][20]byte, benchSize/pieceLen),
		Files: []metainfo.File{{Path: []string{"big.bin"}, Length: benchSize}}, Length: benchSize}
	return info, srv.URL + "/"
}

// BenchmarkFetch fetches the whole 256 MiB torrent per iteration with
// MaxConns (4) workers, each reusing its 16 KiB blocks (as the session's
// pool would), in runs of one 256 KiB piece or of 16 pieces (4 MiB).
func BenchmarkFetch(b *testing.B) {
	for _, bc := range []struct {
		name string
		run  int64
	}{{"run=256KiB", 256 << 10}, {"run=4MiB", 4 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			info, url := benchServer(b, 256<<10)
			s := newSeed(b, info, url, Config{})
			runs := int64(benchSize) / bc.run
			b.SetBytes(benchSize)
			b.ReportAllocs()
			reqs := s.Stats().Requests
			var workerBufs [DefaultMaxConns][][]byte
			for w := range workerBufs {
				workerBufs[w] = blocksFor(bc.run)
			}
			for b.Loop() {
				var next atomic.Int64
				var wg sync.WaitGroup
				for w := range DefaultMaxConns {
					wg.Go(func() {
						bufs := workerBufs[w]
						for r := next.Add(1) - 1; r < runs; r = next.Add(1) - 1 {
							if _, err := s.Fetch(context.Background(), r*bc.run, bufs, nil); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(s.Stats().Requests-reqs)/float64(b.N), "requests/op")
		})
	}
}

// BenchmarkFileServerBaseline reads the same file with one plain GET into
// a 16 KiB buffer: the loopback server's ceiling on this machine.
func BenchmarkFileServerBaseline(b *testing.B) {
	info, url := benchServer(b, 256<<10)
	c := &http.Client{Transport: &http.Transport{}}
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	buf := make([]byte, 16<<10)
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url + info.Name)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != benchSize {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkRequestOverhead fetches one 16 KiB block per request, through
// a Seed and through a bare http.Client with the same Range header, from
// the same in-process server: the difference in allocs/op is what a Seed
// adds to net/http (both figures include the server's allocations).
func BenchmarkRequestOverhead(b *testing.B) {
	info, url := benchServer(b, 256<<10)
	b.Run("seed", func(b *testing.B) {
		s := newSeed(b, info, url, Config{})
		bufs := blocksFor(16 << 10)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Fetch(context.Background(), 1<<20, bufs, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http.Client", func(b *testing.B) {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		buf := make([]byte, 16<<10)
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", url+info.Name, nil)
			req.Header["Range"] = []string{"bytes=1048576-1064959"}
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
		}
	})
}
