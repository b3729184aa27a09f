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
// The expected hashes are computed (and the file pulled into the page cache)
// before the clock starts. cpu_s counts both sides (sender and receiver run in
// this one process), as the two cores are shared by seeder and leecher in the
// client runs too. It exits 1 if a piece does not verify.
package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
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
	res, err := run(context.Background(), *file, *out, *piece, *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	fmt.Println(res)
	if res.badPiece >= 0 {
		os.Exit(1)
	}
}

// result is what one measurement yields.
type result struct {
	bytes    int64
	wall     time.Duration
	cpu      time.Duration
	maxRSSKB int64
	badPiece int // -1 when every piece verified
}

func (r result) String() string {
	v := "ok"
	if r.badPiece >= 0 {
		v = fmt.Sprintf("FAIL:%d", r.badPiece)
	}
	return fmt.Sprintf("wall_s=%.3f mbps=%.1f cpu_s=%.2f maxrss_kb=%d verify=%s",
		r.wall.Seconds(), float64(r.bytes)/r.wall.Seconds()/1e6, r.cpu.Seconds(), r.maxRSSKB, v)
}

func run(ctx context.Context, path, outPath string, pieceLen, workers int) (result, error) {
	src, err := os.Open(path)
	if err != nil {
		return result{}, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return result{}, err
	}
	size := st.Size()
	want, err := pieceHashes(src, size, pieceLen)
	if err != nil {
		return result{}, fmt.Errorf("hashing %s: %w", path, err)
	}
	var dst *os.File
	if outPath == "" {
		dst, err = os.CreateTemp("", "ceiling-*.bin")
		if err == nil {
			defer os.Remove(dst.Name())
		}
	} else {
		dst, err = os.Create(outPath)
	}
	if err != nil {
		return result{}, err
	}
	defer dst.Close()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer ln.Close()
	sendErr := make(chan error, 1)
	go func() { sendErr <- send(ln, src) }()

	cpu0 := cpuTime()
	t0 := time.Now()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	bad, err := receive(conn, dst, want, size, pieceLen, workers)
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	if err != nil {
		return result{}, err
	}
	if err := <-sendErr; err != nil {
		return result{}, fmt.Errorf("sending: %w", err)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return result{bytes: size, wall: wall, cpu: cpu, maxRSSKB: ru.Maxrss, badPiece: bad}, nil
}

// pieceHashes reads the file once: the expected hashes, and a warm page cache.
func pieceHashes(f *os.File, size int64, pieceLen int) ([][sha1.Size]byte, error) {
	n := int((size + int64(pieceLen) - 1) / int64(pieceLen))
	hs := make([][sha1.Size]byte, n)
	buf := make([]byte, pieceLen)
	for i := range n {
		k, err := f.ReadAt(buf, int64(i)*int64(pieceLen))
		if err != nil && !(errors.Is(err, io.EOF) && i == n-1) {
			return nil, err
		}
		hs[i] = sha1.Sum(buf[:k])
	}
	return hs, nil
}

// send accepts one connection and copies the file into it; *net.TCPConn's
// ReadFrom uses sendfile(2), so the bytes go from the page cache to the socket.
func send(ln net.Listener, f *os.File) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(c, f)
	return err
}

// receive reads whole pieces into pooled buffers and hands them to workers that
// hash, compare and pwrite them: reading the next piece overlaps the hashing of
// the previous ones, as in a client. It returns the first bad piece or -1.
func receive(r io.Reader, dst *os.File, want [][sha1.Size]byte, size int64, pieceLen, workers int) (int, error) {
	type job struct {
		index int
		buf   []byte
	}
	free := make(chan []byte, 2*workers)
	for range cap(free) {
		free <- make([]byte, pieceLen)
	}
	jobs := make(chan job)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		bad      = -1
		firstErr error
	)
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				sum := sha1.Sum(j.buf)
				ok := bytes.Equal(sum[:], want[j.index][:])
				_, err := dst.WriteAt(j.buf, int64(j.index)*int64(pieceLen))
				mu.Lock()
				if !ok && (bad < 0 || j.index < bad) {
					bad = j.index
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				free <- j.buf[:cap(j.buf)]
			}
		})
	}
	var readErr error
	for i := range want {
		n := int64(pieceLen)
		if rest := size - int64(i)*int64(pieceLen); rest < n {
			n = rest
		}
		buf := (<-free)[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			readErr = fmt.Errorf("piece %d: %w", i, err)
			break
		}
		jobs <- job{i, buf}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return -1, readErr
	}
	return bad, firstErr
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
