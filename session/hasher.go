package session

import (
	"bytes"
	"crypto/sha1"
	"hash"
	"hash/maphash"
	"runtime"
	"sync"
)

// pieceStore is the part of storage the hasher writes verified pieces to.
type pieceStore interface {
	WritePiece(index int, data []byte) error
}

// hashJob is one assembled piece: its blocks in order, each a pooled block.
type hashJob struct {
	index   uint32
	want    [20]byte
	blocks  []*block
	digests bool // the core wants block digests even if the piece verifies
}

// hashResult is what the hasher casts back to the session.
type hashResult struct {
	index   uint32
	ok      bool     // the hash matched and the piece is on disk
	err     error    // a write error (the piece then counts as not verified)
	digests []uint64 // per block, for smart banning: on failure, or when asked
}

// digestSeed keys the block digests of smart banning: a peer that cannot
// guess it cannot make bad data collide with good.
var digestSeed = maphash.MakeSeed()

func blockDigests(blocks []*block) []uint64 {
	d := make([]uint64, len(blocks))
	for i, b := range blocks {
		d[i] = maphash.Bytes(digestSeed, b.bytes())
	}
	return d
}

// hasher verifies assembled pieces in memory (never reading them back from
// disk) and writes the good ones, on a pool of goroutines bounded by the
// cores. Results go to done, in completion order.
type hasher struct {
	jobs  chan *hashJob
	store pieceStore
	done  func(hashResult)
	wg    sync.WaitGroup
	// jobPool recycles job structs and their block slices.
	jobPool sync.Pool
}

func newHasher(store pieceStore, done func(hashResult)) *hasher {
	h := &hasher{jobs: make(chan *hashJob, 16), store: store, done: done}
	n := max(runtime.GOMAXPROCS(0), 1)
	h.wg.Add(n)
	for range n {
		go h.run()
	}
	return h
}

func (h *hasher) newJob(nblocks int) *hashJob {
	j, _ := h.jobPool.Get().(*hashJob)
	if j == nil {
		j = &hashJob{}
	}
	if cap(j.blocks) < nblocks {
		j.blocks = make([]*block, nblocks)
	}
	j.blocks = j.blocks[:nblocks]
	return j
}

// submit queues a job; it blocks only when every hasher is busy and the
// queue is full, which bounds the memory of pieces waiting to be hashed.
func (h *hasher) submit(j *hashJob) { h.jobs <- j }

// close stops the pool after the queued jobs are done.
func (h *hasher) close() {
	close(h.jobs)
	h.wg.Wait()
}

func (h *hasher) run() {
	defer h.wg.Done()
	sum := sha1.New()
	var digest [sha1.Size]byte
	var buf []byte // the piece, contiguous, for one write
	for j := range h.jobs {
		var r hashResult
		r, buf = h.process(sum, digest[:0], buf, j)
		h.done(r)
		for i, b := range j.blocks {
			putBlock(b)
			j.blocks[i] = nil
		}
		h.jobPool.Put(j)
	}
}

// process gathers the piece into buf (hashing each block while it is hot
// in the cache) and writes it with one call: one syscall per piece rather
// than per block.
func (h *hasher) process(sum hash.Hash, digest, buf []byte, j *hashJob) (hashResult, []byte) {
	sum.Reset()
	buf = buf[:0]
	for _, b := range j.blocks {
		n := len(buf)
		buf = append(buf, b.bytes()...)
		sum.Write(buf[n:])
	}
	if !bytes.Equal(sum.Sum(digest), j.want[:]) {
		return hashResult{index: j.index, digests: blockDigests(j.blocks)}, buf
	}
	r := hashResult{index: j.index, ok: true}
	if j.digests {
		r.digests = blockDigests(j.blocks)
	}
	if err := h.store.WritePiece(int(j.index), buf); err != nil {
		return hashResult{index: j.index, err: err}, buf
	}
	return r, buf
}
