// Command ceiling measures this machine's ceiling for the work a BitTorrent
// download does, without any protocol: it sends a file over loopback TCP from
// the page cache (sendfile) and, on the receiving side, checks the SHA-1 of
// every piece and writes it with pwrite, exactly what a client must do per
// byte. The benchmark harness (bench/bench.sh) reports every client's
// throughput as a fraction of this figure.
//
//	go run ./bench/ceiling -file PAYLOAD [-piece 1048576] [-out COPY] [-workers N]
//
// It prints one line: wall_s=… mbps=… cpu_s=… maxrss_kb=… verify=ok|FAIL:piece.
// cpu_s counts both sides (sender and receiver run in this one process). It
// exits 1 if a piece does not verify.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/effusion-bt/effusion/internal/swarm/ceiling"
)

func main() {
	file := flag.String("file", "", "payload file to send (required)")
	piece := flag.Int("piece", 1<<20, "piece length in bytes")
	out := flag.String("out", "", "where to write the copy (default: a temp file, removed afterwards)")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "goroutines hashing and writing pieces")
	flag.Parse()
	if *file == "" || *piece <= 0 || *workers <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	dst := *out
	if dst == "" {
		f, err := os.CreateTemp("", "ceiling-*.bin")
		if err != nil {
			fmt.Fprintln(os.Stderr, "ceiling:", err)
			os.Exit(1)
		}
		f.Close()
		dst = f.Name()
		defer os.Remove(dst)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := ceiling.Run(ctx, *file, dst, *piece, *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	verify := "ok"
	if res.BadPiece >= 0 {
		verify = fmt.Sprintf("FAIL:%d", res.BadPiece)
	}
	fmt.Printf("wall_s=%.3f mbps=%.1f cpu_s=%.2f maxrss_kb=%d verify=%s\n",
		res.Wall.Seconds(), res.Throughput()/1e6, res.CPU.Seconds(), ru.Maxrss, verify)
	if res.BadPiece >= 0 {
		os.Remove(dst)
		os.Exit(1)
	}
}
