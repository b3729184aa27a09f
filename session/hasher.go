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
	digests bool    // the core wants block digests even if the piece verifies
	h       *hasher // the session's handle, while queued
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

// hasher is a session's handle on the process-wide hashing pool: it
// verifies assembled pieces in memory (never reading them back from disk)
// and writes the good ones. Results go to done, in completion order.
type hasher struct {
	jobs    chan<- *hashJob // the pool's queue, while we hold a reference
	store   pieceStore
	done    func(hashResult)
	pending sync.WaitGroup // this session's jobs not yet finished
}

// hashPool is the process-wide pool of hashing goroutines, one per core,
// shared by every session: started with the first session, stopped with
// the last.
var hashPool struct {
	sync.Mutex
	refs int
	jobs chan *hashJob
	wg   sync.WaitGroup
}

// jobPool recycles job structs and their block slices.
var jobPool sync.Pool

func newHasher(store pieceStore, done func(hashResult)) *hasher {
	hashPool.Lock()
	defer hashPool.Unlock()
	if hashPool.refs == 0 {
		// A short queue: when every hasher is busy the session waits,
		// which bounds the pieces waiting to be hashed.
		hashPool.jobs = make(chan *hashJob, 16)
		n := max(runtime.GOMAXPROCS(0), 1)
		hashPool.wg.Add(n)
		for range n {
			go runHasher(hashPool.jobs)
		}
	}
	hashPool.refs++
	return &hasher{jobs: hashPool.jobs, store: store, done: done}
}

func (h *hasher) newJob(nblocks int) *hashJob {
	j, _ := jobPool.Get().(*hashJob)
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
// queue is full.
func (h *hasher) submit(j *hashJob) {
	j.h = h
	h.pending.Add(1)
	h.jobs <- j
}

// close waits for this session's jobs, then releases the pool (stopping
// it when no session is left).
func (h *hasher) close() {
	h.pending.Wait()
	hashPool.Lock()
	defer hashPool.Unlock()
	hashPool.refs--
	if hashPool.refs == 0 {
		close(hashPool.jobs)
		hashPool.wg.Wait()
	}
}

func runHasher(jobs <-chan *hashJob) {
	defer hashPool.wg.Done()
	sum := sha1.New()
	var digest [sha1.Size]byte
	var buf []byte // the piece, contiguous, for one write
	for j := range jobs {
		h := j.h
		var r hashResult
		r, buf = h.process(sum, digest[:0], buf, j)
		h.done(r)
		for i, b := range j.blocks {
			putBlock(b)
			j.blocks[i] = nil
		}
		j.h = nil
		jobPool.Put(j)
		h.pending.Done()
	}
}

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
