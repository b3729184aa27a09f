package session

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkWebSeedDownload: a session downloads a single-file torrent
// (256 KiB pieces) from one web seed, Go's http.FileServer on loopback, no
// peer: from Start to every piece verified and written. It reports the
// HTTP requests per MiB (the runs' coalescing) beside the rate.
// EFFUSION_BENCH_MIB sets the payload size (default 64).
func BenchmarkWebSeedDownload(b *testing.B) {
	mib := 64
	if v := os.Getenv("EFFUSION_BENCH_MIB"); v != "" {
		if _, err := fmt.Sscan(v, &mib); err != nil {
			b.Fatal(err)
		}
	}
	data := randomData(8, mib<<20)
	mi, www := webTorrent(b, "payload.bin", 256<<10, testFile{data: data})
	h := &counting{h: http.FileServer(http.Dir(www))}
	srv := serveHTTP(b, h)
	mi.URLList = []string{srv.URL + "/payload.bin"}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "leech")
		b.StartTimer()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		s, err := Start(ctx, Config{Torrent: mi, Dir: dir, ListenAddr: "127.0.0.1:0", Logger: testLogger(b)})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Await(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Stop(ctx)
		cancel()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(h.n.Load())/float64(b.N)/float64(mib), "requests/MiB")
}
