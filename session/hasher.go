package session

import (
	"crypto/sha1"
	"hash/maphash"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/sha1x"
)

// pieceStore is the part of storage the hasher writes verified pieces to.
type pieceStore interface {
	// WritePieceBlocks writes a verified piece held as its consecutive
	// blocks (one vectored write: the blocks are not gathered first).
	WritePieceBlocks(index int, blocks [][]byte) error
}

// hashJob is one assembled piece: its blocks in order, each a pooled block.
type hashJob struct {
	index   uint32
	want    [20]byte
	blocks  []*block
	digests bool    // the core wants block digests even if the piece verifies
	last    bool    // no other piece of the session to come: do not wait
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
	pool    *hashPool
	store   pieceStore
	done    func(hashResult)
	pending sync.WaitGroup // this session's jobs not yet finished
}

// Batching: the multi-buffer SHA-1 costs about as much per call whatever
// the number of lanes, so it pays in full only with a full batch: two
// pieces cost what eight do. A worker that finds fewer than batchTarget
// jobs queued waits for more, at most batchWait (or until the pool closes
// or a session says its piece is its last), then hashes what it has. At
// 450 MB/s a 1 MiB piece completes every 2.3 ms: with 2 ms and 4 pieces
// the batches held about two, and hashing cost the leecher 15% more CPU
// than with 20 ms and 8 (A/B from a libtorrent seeder, 4 rounds). The
// wait only delays a piece's HAVE; a download's last piece is not held.
const (
	batchTarget = sha1x.Lanes
	batchWait   = 20 * time.Millisecond
	// batchBlocks stops the wait for large pieces at half the in-flight
	// blocks (six 1 MiB pieces with the default budget; two 16 MiB pieces,
	// four of 8 MiB, with the budget those sessions raise it to), so that
	// the readers keep the other half:
	// pieces of 16 MiB hashed two at a time download 1.15x as fast as one
	// at a time (in-process pair, 1 GiB, 3 runs each). This is the bound
	// of a pool without a budget (tests); a hashPool's is half its budget.
	batchBlocks = defaultInflightBlocks / 2
)

// workerPool is a set of hashing goroutines fed by one queue.
type workerPool struct {
	jobs   chan *hashJob
	gather chan struct{} // held by the worker gathering a batch
	wg     sync.WaitGroup
	target int           // batch size worth waiting for; 1: never wait
	blocks *blockPool    // the in-flight blocks: hashed ones go back; half its budget bounds a batch (nil: batchBlocks)
	wait   time.Duration // the longest a worker waits for a batch to fill
	// onBatch, if set before start, sees each batch's size (for tests).
	onBatch func(n int)
}

// start runs n workers. A short queue: when every worker is busy the
// sessions wait, which bounds the pieces waiting to be hashed.
func (p *workerPool) start(n int) {
	p.jobs = make(chan *hashJob, 16)
	p.gather = make(chan struct{}, 1)
	p.wg.Add(n)
	for range n {
		go p.run()
	}
}

// stop closes the queue (workers then finish what is queued without
// waiting for more) and waits for the workers.
func (p *workerPool) stop() {
	close(p.jobs)
	p.wg.Wait()
}

// hashPool is an environment's hashing goroutines (one per core by
// default), shared by every session of the environment.
type hashPool struct {
	workerPool
	spare sync.Pool // recycled job structs and their block slices

	hashTime, writeTime latency // per piece, for Env.Timings
}

// newHashPool starts n workers.
func newHashPool(n int, blocks *blockPool) *hashPool {
	hp := &hashPool{workerPool: workerPool{target: 1, blocks: blocks}}
	if sha1x.Accelerated() {
		hp.target, hp.wait = batchTarget, batchWait
	}
	hp.start(max(n, 1))
	return hp
}

// handle returns a session's handle on the pool.
func (hp *hashPool) handle(store pieceStore, done func(hashResult)) *hasher {
	return &hasher{pool: hp, store: store, done: done}
}

func (h *hasher) newJob(nblocks int) *hashJob {
	j, _ := h.pool.spare.Get().(*hashJob)
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
	h.pool.jobs <- j
}

// close waits for this session's jobs to finish.
func (h *hasher) close() { h.pending.Wait() }

// run is one hashing goroutine. It gathers a batch from the queue, up to
// sha1x.Lanes jobs, waiting a little for a batch of p.target (see
// batchWait), and hashes the jobs of equal piece length together: with the
// vector SHA-1 that is several times the throughput of hashing them one
// after the other. One worker gathers at a time (holding p.gather), so
// that while the others hash and write, the next batch fills up for one
// worker instead of trickling to all of them a piece each.
func (p *workerPool) run() {
	defer p.wg.Done()
	w := &hashWorker{batch: make([]*hashJob, 0, sha1x.Lanes)}
	var timer *time.Timer
	for {
		p.gather <- struct{}{}
		batch, open := p.collect(w.batch[:0], &timer)
		<-p.gather
		if len(batch) > 0 {
			if p.onBatch != nil {
				p.onBatch(len(batch))
			}
			w.run(batch)
			clear(batch)
		}
		if !open {
			return
		}
	}
}

// collect gathers a batch into batch: at least one job (blocking until
// then), what else is queued, and, while there are fewer than p.target,
// what comes within p.wait. It reports whether the queue is still open.
func (p *workerPool) collect(batch []*hashJob, timer **time.Timer) ([]*hashJob, bool) {
	j, ok := <-p.jobs
	if !ok {
		return batch, false
	}
	batch = append(batch, j)
	if !drain(p.jobs, &batch) {
		return batch, false
	}
	if p.enough(batch) {
		return batch, true
	}
	if *timer == nil {
		*timer = time.NewTimer(p.wait)
	} else {
		(*timer).Reset(p.wait)
	}
	defer (*timer).Stop()
	for !p.enough(batch) {
		select {
		case j, ok := <-p.jobs:
			if !ok {
				return batch, false
			}
			batch = append(batch, j)
		case <-(*timer).C:
			// Take whatever else came meanwhile, without waiting.
			return batch, drain(p.jobs, &batch)
		}
	}
	return batch, drain(p.jobs, &batch)
}

// enough reports whether a batch is worth hashing without waiting for
// more: it has p.target pieces, or holds a session's last piece, or
// batchBlocks blocks (large pieces: waiting for more would hold the
// in-flight blocks the readers need to receive them).
func (p *workerPool) enough(batch []*hashJob) bool {
	if len(batch) >= p.target {
		return true
	}
	blocks := 0
	for _, j := range batch {
		if j.last {
			return true
		}
		blocks += len(j.blocks)
	}
	bound := int64(batchBlocks)
	if p.blocks != nil {
		bound = p.blocks.budget() / 2
	}
	return int64(blocks) >= bound
}

// drain adds the queued jobs to batch, up to sha1x.Lanes, without
// waiting. It reports whether the queue is still open.
func drain(jobs <-chan *hashJob, batch *[]*hashJob) bool {
	for len(*batch) < sha1x.Lanes {
		select {
		case j, ok := <-jobs:
			if !ok {
				return false
			}
			*batch = append(*batch, j)
		default:
			return true
		}
	}
	return true
}

// hashWorker is a hashing goroutine's reusable state.
type hashWorker struct {
	multi sha1x.Multi // crypto/sha1 per piece below sha1x.MinLanes() pieces
	batch []*hashJob
	group [sha1x.Lanes]*hashJob
	iov   [][]byte // the piece's blocks, for one vectored write
}

// run hashes a batch, in groups of jobs with the same block layout, and
// finishes every job.
func (w *hashWorker) run(batch []*hashJob) {
	for len(batch) > 0 {
		// Gather the jobs shaped like the first one, keep the others.
		// (rest reuses batch's array: compare with first, not batch[0].)
		first := batch[0]
		group := w.group[:0]
		rest := batch[:0]
		for _, j := range batch {
			if sameLayout(j, first) {
				group = append(group, j)
			} else {
				rest = append(rest, j)
			}
		}
		w.runGroup(group)
		clear(batch[len(rest):])
		batch = rest
	}
}

// sameLayout reports whether two jobs have blocks of the same lengths, in
// the same order: then they can be hashed in lockstep, a block at a time.
func sameLayout(a, b *hashJob) bool {
	if len(a.blocks) != len(b.blocks) {
		return false
	}
	for k := range a.blocks {
		if a.blocks[k].n != b.blocks[k].n {
			return false
		}
	}
	return true
}

// runGroup hashes jobs of the same layout together, straight from their
// blocks (sha1x.Multi falls back to crypto/sha1 per piece when there are
// too few to share the vector path), then verifies and writes each.
func (w *hashWorker) runGroup(group []*hashJob) {
	start := time.Now()
	w.multi.Reset(len(group))
	var chunks [sha1x.Lanes][]byte
	for k := range group[0].blocks {
		for i, j := range group {
			chunks[i] = j.blocks[k].bytes()
		}
		w.multi.Write(&chunks)
	}
	var sums [sha1x.Lanes][sha1.Size]byte
	w.multi.Sum(&sums)
	took := time.Since(start)
	for i, j := range group {
		j.h.pool.hashTime.observe(took)
		finish(j, w.check(sums[i], j))
	}
}

// finish reports a job's result to its session and recycles the job.
func finish(j *hashJob, r hashResult) {
	h := j.h
	h.done(r)
	for i, b := range j.blocks {
		h.pool.blocks.put(b)
		j.blocks[i] = nil
	}
	j.h, j.last = nil, false
	h.pool.spare.Put(j)
	h.pending.Done()
}

// check compares the digest of a job's piece with the expected one and
// writes the piece, straight from its blocks, if they match. A mismatch
// (or a request from the core) carries the block digests for smart
// banning.
func (w *hashWorker) check(digest [sha1.Size]byte, j *hashJob) hashResult {
	if digest != j.want {
		return hashResult{index: j.index, digests: blockDigests(j.blocks)}
	}
	r := hashResult{index: j.index, ok: true}
	if j.digests {
		r.digests = blockDigests(j.blocks)
	}
	w.iov = w.iov[:0]
	for _, b := range j.blocks {
		w.iov = append(w.iov, b.bytes())
	}
	start := time.Now()
	err := j.h.store.WritePieceBlocks(int(j.index), w.iov)
	j.h.pool.writeTime.observe(time.Since(start))
	clear(w.iov) // the blocks go back to the pool
	if err != nil {
		return hashResult{index: j.index, err: err}
	}
	return r
}
