// Package ceiling measures what a machine can do for a BitTorrent download's
// work without any protocol: loopback TCP from the page cache, SHA-1 per
// piece, pwrite. Benchmarks report a client's throughput as a fraction of it.
//
// It does that work the fastest way we know on this machine (16 KiB
// blocks from a free list, the multi-buffer SHA-1 of sha1x, one
// pwritev per piece, writes that do not contend): a
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
	"path/filepath"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/sha1x"
	"github.com/effusion-bt/effusion/storage"
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
	// The copy goes through package storage, the writes Effusion makes:
	// one pwritev per piece, one at a time per file.
	f, err := os.Create(dst) // start from an empty file
	if err != nil {
		return Result{}, err
	}
	f.Close()
	out, err := storage.OpenLayout(filepath.Dir(dst), storage.Layout{
		PieceLength: int64(pieceLen),
		Files:       []storage.File{{Path: []string{filepath.Base(dst)}, Length: size}},
		Hashes:      want,
	}, storage.Options{})
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

// pieceWriter takes verified pieces as their blocks (a *storage.Storage).
type pieceWriter interface {
	WritePieceBlocks(index int, blocks [][]byte) error
}

// blockSize is the unit of receiving: a BitTorrent block.
const blockSize = 16 << 10

// receivePieces reads the stream into 16 KiB blocks taken from a free list
// (the most recently released first, still in the CPU's caches) and
// hands them to workers in batches of up to sha1x.Lanes consecutive
// pieces of one length. A worker hashes a batch's pieces in lockstep, a
// block at a time (sha1x, the fastest SHA-1 for many pieces on
// this machine), compares the digests and writes each piece straight from
// its blocks (package storage: one pwritev, one write at a time per file):
// the work a client must
// do, done the cheapest way we know (the way Effusion's hasher does it). A
// ceiling computed with slower parts than a client's would understate the
// machine. Reading the next batch overlaps the hashing of the previous
// ones. It returns the first bad piece or -1.
func receivePieces(r io.Reader, dst pieceWriter, want [][sha1.Size]byte, size int64, pieceLen, workers int) (int, error) {
	type piece struct {
		index  int
		blocks [][]byte
	}
	type batch struct {
		n      int
		pieces [sha1x.Lanes]piece
	}
	bs := min(blockSize, pieceLen)
	perPiece := (pieceLen + bs - 1) / bs
	free := newStack((workers+1)*sha1x.Lanes*perPiece, bs)
	jobs := make(chan *batch)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		bad      = -1
		firstErr error
	)
	for range workers {
		wg.Go(func() {
			var (
				m      sha1x.Multi
				chunks [sha1x.Lanes][]byte
				sums   [sha1x.Lanes][sha1x.Size]byte
			)
			for b := range jobs {
				// Every piece of a batch has the same length, so the same blocks.
				m.Reset(b.n)
				for k := range b.pieces[0].blocks {
					for i := range b.n {
						chunks[i] = b.pieces[i].blocks[k]
					}
					m.Write(&chunks)
				}
				m.Sum(&sums)
				for i := range b.n {
					p := &b.pieces[i]
					ok := sums[i] == want[p.index]
					err := dst.WritePieceBlocks(p.index, p.blocks)
					mu.Lock()
					if !ok && (bad < 0 || p.index < bad) {
						bad = p.index
					}
					if err != nil && firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					for _, blk := range p.blocks {
						free.put(blk[:cap(blk)])
					}
				}
			}
		})
	}
	var readErr error
	cur, curLen := &batch{}, 0
read:
	for i := range want {
		plen := int(min(int64(pieceLen), size-int64(i)*int64(pieceLen)))
		if cur.n > 0 && plen != curLen {
			jobs <- cur
			cur = &batch{}
		}
		p := &cur.pieces[cur.n]
		p.index = i
		for off := 0; off < plen; off += bs {
			blk := free.get()[:min(bs, plen-off)]
			if _, err := io.ReadFull(r, blk); err != nil {
				free.put(blk)
				for _, b := range p.blocks {
					free.put(b)
				}
				readErr = fmt.Errorf("ceiling: piece %d: %w", i, err)
				break read
			}
			p.blocks = append(p.blocks, blk)
		}
		cur.n++
		curLen = plen
		if cur.n == sha1x.Lanes {
			jobs <- cur
			cur = &batch{}
		}
	}
	if cur.n > 0 { // the tail, or what came before a read error
		jobs <- cur
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return -1, readErr
	}
	return bad, firstErr
}

// stack is a free list of blocks, last in first out: the block reused
// next is the one released last, still in the CPU's caches.
type stack struct {
	mu   sync.Mutex
	cond sync.Cond
	bufs [][]byte
}

func newStack(n, size int) *stack {
	s := &stack{}
	s.cond.L = &s.mu
	for range n {
		s.bufs = append(s.bufs, make([]byte, size))
	}
	return s
}

func (s *stack) get() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.bufs) == 0 {
		s.cond.Wait()
	}
	b := s.bufs[len(s.bufs)-1]
	s.bufs = s.bufs[:len(s.bufs)-1]
	return b
}

func (s *stack) put(b []byte) {
	s.mu.Lock()
	s.bufs = append(s.bufs, b)
	s.mu.Unlock()
	s.cond.Signal()
}
