// Package ceiling measures what a machine can do for a BitTorrent download's
// work without any protocol: loopback TCP from the page cache, SHA-1 per
// piece, pwrite. Benchmarks report a client's throughput as a fraction of it.
//
// It does that work the fastest way we know on this machine (the
// multi-buffer SHA-1 of internal/sha1x, pwrites that do not contend): a
// ceiling built with slower parts than a client uses is no ceiling (with
// crypto/sha1, which runs at 500 MB/s per core on CPUs without SHA-NI,
// Effusion seeding to itself measured 102% of it).
package ceiling

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/internal/sha1x"
)

// Result is one measurement of the machine's ceiling.
type Result struct {
	Bytes    int64         // bytes moved
	Wall     time.Duration // from dialling to the last piece written
	CPU      time.Duration // user+system of this process (both sides) meanwhile
	BadPiece int           // the first piece whose hash did not match, or -1
}

// Throughput returns bytes per second.
func (r Result) Throughput() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Bytes) / r.Wall.Seconds()
}

// Run measures what this machine can do for a download's work without
// any protocol: it sends the file src over loopback TCP from the page cache
// (sendfile) and, on the receiving side, reads whole pieces of pieceLen
// bytes, checks each one's SHA-1 and writes it with pwrite into dst, on
// workers goroutines. The expected hashes are computed (and src pulled into
// the page cache) before the clock starts. Both sides run in this process,
// as seeder and leecher share the machine's cores in a loopback benchmark.
// A hash mismatch is reported in BadPiece, not as an error.
func Run(ctx context.Context, src, dst string, pieceLen, workers int) (Result, error) {
	if pieceLen <= 0 || workers <= 0 {
		return Result{}, fmt.Errorf("ceiling: piece length %d, workers %d: want positive", pieceLen, workers)
	}
	in, err := os.Open(src)
	if err != nil {
		return Result{}, err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return Result{}, err
	}
	size := st.Size()
	want, err := pieceHashes(in, size, pieceLen)
	if err != nil {
		return Result{}, fmt.Errorf("ceiling: hashing %s: %w", src, err)
	}
	out, err := os.Create(dst)
	if err != nil {
		return Result{}, err
	}
	defer out.Close()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	defer ln.Close()
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendFile(ln, in) }()

	cpu0 := cpuTime()
	t0 := time.Now()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		ln.Close()
		<-sendErr
		return Result{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	bad, rerr := receivePieces(conn, out, want, size, pieceLen, workers)
	res := Result{Bytes: size, Wall: time.Since(t0), CPU: cpuTime() - cpu0, BadPiece: bad}
	conn.Close()
	serr := <-sendErr
	if rerr != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, rerr
	}
	if serr != nil {
		return res, fmt.Errorf("ceiling: sending: %w", serr)
	}
	return res, nil
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

// sendFile accepts one connection and copies the file into it; *net.TCPConn's
// ReadFrom uses sendfile(2), so the bytes go from the page cache to the socket.
func sendFile(ln net.Listener, f *os.File) error {
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

// receivePieces reads whole pieces into pooled buffers and hands them, in
// batches of up to sha1x.Lanes consecutive pieces, to workers that hash
// them (sha1x: the fastest SHA-1 for many pieces on this machine, as a
// client would use), compare and pwrite them: reading the next batch
// overlaps the hashing of the previous ones, as in a client. A ceiling
// computed with a slower hash than the clients' would understate the
// machine. It returns the first bad piece or -1.
func receivePieces(r io.Reader, dst *os.File, want [][sha1.Size]byte, size int64, pieceLen, workers int) (int, error) {
	type batch struct {
		first int // index of bufs[0]
		n     int
		bufs  [sha1x.Lanes][]byte
	}
	free := make(chan []byte, (workers+1)*sha1x.Lanes)
	for range cap(free) {
		free <- make([]byte, pieceLen)
	}
	jobs := make(chan *batch)
	var (
		wg       sync.WaitGroup
		wmu      sync.Mutex // one pwrite at a time: see below
		mu       sync.Mutex
		bad      = -1
		firstErr error
	)
	for range workers {
		wg.Go(func() {
			var sums [sha1x.Lanes][sha1x.Size]byte
			for b := range jobs {
				sha1x.Sum8(&sums, &b.bufs, b.n)
				for k := range b.n {
					i := b.first + k
					ok := sums[k] == want[i]
					// Concurrent pwrites to one file queue on the inode's
					// lock, where Linux spins: serialized here, a waiting
					// worker sleeps instead (about a third less CPU for the
					// writes on this machine).
					wmu.Lock()
					_, err := dst.WriteAt(b.bufs[k], int64(i)*int64(pieceLen))
					wmu.Unlock()
					mu.Lock()
					if !ok && (bad < 0 || i < bad) {
						bad = i
					}
					if err != nil && firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					free <- b.bufs[k][:cap(b.bufs[k])]
				}
			}
		})
	}
	var readErr error
	b := &batch{}
	for i := range want {
		n := min(int64(pieceLen), size-int64(i)*int64(pieceLen))
		buf := (<-free)[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			free <- buf
			readErr = fmt.Errorf("ceiling: piece %d: %w", i, err)
			break
		}
		if b.n == 0 {
			b.first = i
		}
		b.bufs[b.n] = buf
		b.n++
		if b.n == sha1x.Lanes || i == len(want)-1 {
			jobs <- b
			b = &batch{}
		}
	}
	if b.n > 0 { // a read error ended a partial batch: hash and write what came
		jobs <- b
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return -1, readErr
	}
	return bad, firstErr
}
