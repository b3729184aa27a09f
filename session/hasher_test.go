package session

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/sha1x"
)

// memStore records the pieces written, or fails the ones in fail.
type memStore struct {
	mu     sync.Mutex
	pieces map[int][]byte
	fail   map[int]bool
}

var errDiskFull = errors.New("disk full")

func (s *memStore) WritePieceBlocks(index int, blocks [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[index] {
		return errDiskFull
	}
	s.pieces[index] = bytes.Join(blocks, nil)
	return nil
}

// testPiece is a piece to hash: its data and how the job should end.
type testPiece struct {
	data    []byte
	good    bool // the job carries the right hash
	digests bool // the core asks for block digests
	fail    bool // the write fails
}

// makeJob splits a piece into pooled blocks as the session files them.
func makeJob(h *hasher, index int, p testPiece) *hashJob {
	nb := (len(p.data) + peerwire.BlockSize - 1) / peerwire.BlockSize
	j := h.newJob(nb)
	for k := range nb {
		b := &block{data: new([peerwire.BlockSize]byte)}
		b.n = uint32(copy(b.data[:], p.data[k*peerwire.BlockSize:]))
		j.blocks[k] = b
	}
	j.index = uint32(index)
	j.want = sha1.Sum(p.data)
	if !p.good {
		j.want[7] ^= 1
	}
	j.digests = p.digests
	return j
}

// hasherPieces: pieces of 3.5 blocks (a short last block), good and bad,
// some asking for digests, one failing its write, and a shorter last
// piece, so that a batch holds two layouts.
func hasherPieces() []testPiece {
	const pieceLen = 3*peerwire.BlockSize + peerwire.BlockSize/2
	var ps []testPiece
	for i := range 19 {
		ps = append(ps, testPiece{
			data:    randomData(uint64(100+i), pieceLen),
			good:    i%4 != 1,
			digests: i%5 == 2,
			fail:    i == 6,
		})
	}
	ps = append(ps, testPiece{data: randomData(99, 1000), good: true})
	return ps
}

// checkResults asserts each piece's result: verified and written exactly
// when its hash is right and the write works, block digests when it is
// wrong or they were asked for.
func checkResults(t *testing.T, ps []testPiece, results map[uint32]hashResult, store *memStore) {
	t.Helper()
	if len(results) != len(ps) {
		t.Fatalf("%d results for %d pieces", len(results), len(ps))
	}
	for i, p := range ps {
		r := results[uint32(i)]
		wantOK := p.good && !p.fail
		if r.ok != wantOK || (r.err != nil) != (p.good && p.fail) {
			t.Errorf("piece %d: ok %v err %v, want ok %v (good %v, failing write %v)", i, r.ok, r.err, wantOK, p.good, p.fail)
		}
		got, written := store.pieces[i]
		if written != wantOK || (written && !bytes.Equal(got, p.data)) {
			t.Errorf("piece %d: written %v (right bytes: %v), want written %v", i, written, bytes.Equal(got, p.data), wantOK)
		}
		var want []uint64
		if !p.good || (p.digests && !p.fail) {
			var blocks []*block
			for k := 0; k < len(p.data); k += peerwire.BlockSize {
				blocks = append(blocks, &block{data: (*[peerwire.BlockSize]byte)(append(slices.Clone(p.data[k:min(k+peerwire.BlockSize, len(p.data))]), make([]byte, peerwire.BlockSize)...)), n: uint32(min(peerwire.BlockSize, len(p.data)-k))})
			}
			want = blockDigests(blocks)
		}
		if !slices.Equal(r.digests, want) {
			t.Errorf("piece %d: digests %x, want %x", i, r.digests, want)
		}
	}
}

// TestHasherBatch hands one worker batches mixing layouts and outcomes,
// as it takes them from a busy queue, and checks every job's result.
func TestHasherBatch(t *testing.T) {
	ps := hasherPieces()
	store := &memStore{pieces: map[int][]byte{}, fail: map[int]bool{6: true}}
	results := map[uint32]hashResult{}
	h := &hasher{pool: &hashPool{workerPool: workerPool{blocks: newBlockPool(64, 64)}}, store: store, done: func(r hashResult) { results[r.index] = r }}
	w := &hashWorker{}
	// Batches of 8 (one full group), 1 (crypto/sha1 inside sha1x.Multi), 8 starting with
	// the short last piece (a group of 1, then one of 7), and 3.
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7}, {8}, {19, 9, 10, 11, 12, 13, 14, 15}, {16, 17, 18}} {
		var batch []*hashJob
		for _, i := range order {
			j := makeJob(h, i, ps[i])
			j.h = h
			h.pending.Add(1)
			batch = append(batch, j)
		}
		w.run(batch)
	}
	h.pending.Wait()
	checkResults(t, ps, results, store)
}

// TestHasherPool goes through the process-wide pool, whose workers take
// what is queued.
func TestHasherPool(t *testing.T) {
	ps := hasherPieces()
	store := &memStore{pieces: map[int][]byte{}, fail: map[int]bool{6: true}}
	var mu sync.Mutex
	results := map[uint32]hashResult{}
	h := testEnv(t).hashers.handle(store, func(r hashResult) {
		mu.Lock()
		results[r.index] = r
		mu.Unlock()
	})
	for i, p := range ps {
		h.submit(makeJob(h, i, p))
	}
	h.close()
	checkResults(t, ps, results, store)
}

// batchPool is a pool of workers configured as the accelerated
// process-wide one, recording batch sizes, and a session handle on it recording
// when each piece finished (virtual time, inside a synctest bubble).
type batchPool struct {
	p       *workerPool
	h       *hasher
	store   *memStore
	mu      sync.Mutex
	batches []int
	doneAt  map[uint32]time.Time
	results map[uint32]hashResult
}

func newBatchPool(workers int) *batchPool {
	b := &batchPool{
		store:   &memStore{pieces: map[int][]byte{}},
		doneAt:  map[uint32]time.Time{},
		results: map[uint32]hashResult{},
	}
	hp := &hashPool{workerPool: workerPool{target: batchTarget, wait: batchWait, onBatch: func(n int) {
		b.mu.Lock()
		b.batches = append(b.batches, n)
		b.mu.Unlock()
	}, blocks: newBlockPool(64, 64)}}
	hp.start(workers)
	b.p = &hp.workerPool
	b.h = hp.handle(b.store, func(r hashResult) {
		b.mu.Lock()
		b.results[r.index] = r
		b.doneAt[r.index] = time.Now()
		b.mu.Unlock()
	})
	return b
}

// submit queues good pieces first..first+n-1, all of the same layout.
func (b *batchPool) submit(first, n int) []testPiece {
	var ps []testPiece
	for i := range n {
		p := testPiece{data: randomData(uint64(200+first+i), 2*peerwire.BlockSize), good: true}
		ps = append(ps, p)
		b.h.submit(makeJob(b.h, first+i, p))
	}
	return ps
}

func (b *batchPool) state() (batches []int, done int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.batches), len(b.results)
}

// TestHasherLoneJobWaitsAtMostTheBound: a lone piece waits for company
// exactly batchWait, then is hashed alone.
func TestHasherLoneJobWaitsAtMostTheBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBatchPool(1)
		start := time.Now()
		ps := b.submit(0, 1)
		time.Sleep(batchWait - time.Nanosecond)
		synctest.Wait()
		if _, done := b.state(); done != 0 {
			t.Fatalf("lone piece hashed before the bound (%v)", time.Since(start))
		}
		b.h.pending.Wait()
		if got := b.doneAt[0].Sub(start); got != batchWait {
			t.Errorf("lone piece done after %v, want %v", got, batchWait)
		}
		b.p.stop()
		if batches, _ := b.state(); !slices.Equal(batches, []int{1}) {
			t.Errorf("batches %v, want [1]", batches)
		}
		checkResults(t, ps, b.results, b.store)
	})
}

// TestHasherLastPieceDoesNotWait: a session's last piece is hashed at once,
// with the pieces waiting for company before it, whether it finds them
// queued or arrives while a worker waits.
func TestHasherLastPieceDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBatchPool(1)
		start := time.Now()
		ps := b.submit(0, 2)
		time.Sleep(batchWait / 4)
		p := testPiece{data: randomData(99, 2*peerwire.BlockSize), good: true}
		j := makeJob(b.h, 2, p)
		j.last = true
		b.h.submit(j)
		ps = append(ps, p)
		b.h.pending.Wait()
		for i := range 3 {
			if got := b.doneAt[uint32(i)].Sub(start); got != batchWait/4 {
				t.Errorf("piece %d done after %v, want %v (when the last piece came)", i, got, batchWait/4)
			}
		}
		// Found queued with another: no wait either.
		start = time.Now()
		ps = append(ps, b.submit(3, 1)...)
		p = testPiece{data: randomData(98, 2*peerwire.BlockSize), good: true}
		j = makeJob(b.h, 4, p)
		j.last = true
		b.h.submit(j)
		ps = append(ps, p)
		b.h.pending.Wait()
		if got := b.doneAt[4].Sub(start); got != 0 {
			t.Errorf("queued last piece done after %v, want 0", got)
		}
		b.p.stop()
		if batches, _ := b.state(); !slices.Equal(batches, []int{3, 2}) {
			t.Errorf("batches %v, want [3 2]", batches)
		}
		checkResults(t, ps, b.results, b.store)
	})
}

// TestHasherBatchesQueuedJobs: pieces arriving within the bound are
// hashed as one batch as soon as there are batchTarget of them, also
// with several workers (one gathers while the others work).
func TestHasherBatchesQueuedJobs(t *testing.T) {
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprint(workers, "workers"), func(t *testing.T) { testBatchesQueuedJobs(t, workers) })
	}
}

func testBatchesQueuedJobs(t *testing.T, workers int) {
	synctest.Test(t, func(t *testing.T) {
		b := newBatchPool(workers)
		start := time.Now()
		var ps []testPiece
		ps = append(ps, b.submit(0, batchTarget-1)...)
		time.Sleep(batchWait / 2)
		synctest.Wait()
		if _, done := b.state(); done != 0 {
			t.Fatalf("%d pieces hashed before the batch filled", done)
		}
		ps = append(ps, b.submit(batchTarget-1, 1)...)
		b.h.pending.Wait()
		for i := range batchTarget {
			if got := b.doneAt[uint32(i)].Sub(start); got != batchWait/2 {
				t.Errorf("piece %d done after %v, want %v (when the batch filled)", i, got, batchWait/2)
			}
		}
		batches, _ := b.state()
		if !slices.Equal(batches, []int{batchTarget}) {
			t.Errorf("batches %v, want [%d]", batches, batchTarget)
		}
		b.p.stop()
		checkResults(t, ps, b.results, b.store)
	})
}

// TestHasherFullQueueDoesNotWait: a worker finding a full batch queued
// hashes it at once.
func TestHasherFullQueueDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Queue all 16 before the worker starts, so that it finds them
		// queued rather than racing the submitter for the first ones.
		b := newBatchPool(0)
		start := time.Now()
		ps := b.submit(0, 16)
		b.p.wg.Add(1)
		go b.p.run()
		b.h.pending.Wait()
		for i := range ps {
			if got := b.doneAt[uint32(i)].Sub(start); got != 0 {
				t.Errorf("piece %d done after %v, want at once", i, got)
			}
		}
		b.p.stop()
		batches, _ := b.state()
		if len(batches) < 2 || slices.Contains(batches, 1) || slices.Max(batches) > sha1x.Lanes {
			t.Errorf("batches %v: want batches of 2..%d for 16 queued pieces", batches, sha1x.Lanes)
		}
		checkResults(t, ps, b.results, b.store)
	})
}

// TestHasherStopWhileWaiting: stopping the pool while a worker waits for
// a batch hashes what it holds and returns at once, leaving no goroutine
// (synctest.Test fails on a goroutine left in the bubble).
func TestHasherStopWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBatchPool(1)
		start := time.Now()
		ps := b.submit(0, 2)
		synctest.Wait()
		if _, done := b.state(); done != 0 {
			t.Fatalf("%d pieces hashed before the bound", done)
		}
		b.p.stop()
		if got := time.Since(start); got != 0 {
			t.Errorf("stop took %v, want no wait", got)
		}
		if batches, _ := b.state(); !slices.Equal(batches, []int{2}) {
			t.Errorf("batches %v, want [2]", batches)
		}
		checkResults(t, ps, b.results, b.store)
	})
}

// TestHasherEnough: a batch is hashed without waiting once it has the
// target count, a session's last piece, or half the in-flight blocks
// (large pieces: waiting for more would starve the readers).
func TestHasherEnough(t *testing.T) {
	p := &workerPool{target: batchTarget}
	job := func(blocks int, last bool) *hashJob {
		return &hashJob{blocks: make([]*block, blocks), last: last}
	}
	for _, c := range []struct {
		name  string
		batch []*hashJob
		want  bool
	}{
		{"one 1 MiB piece", []*hashJob{job(64, false)}, false},
		{"seven 256 KiB pieces", slices.Repeat([]*hashJob{job(16, false)}, batchTarget-1), false},
		{"eight 256 KiB pieces", slices.Repeat([]*hashJob{job(16, false)}, batchTarget), true},
		{"five 1 MiB pieces", slices.Repeat([]*hashJob{job(64, false)}, batchBlocks/64-1), false},
		{"six 1 MiB pieces: half the default budget", slices.Repeat([]*hashJob{job(64, false)}, batchBlocks/64), true},
		{"a last piece", []*hashJob{job(64, false), job(3, true)}, true},
		{"two pieces of half the block bound", []*hashJob{job(batchBlocks/2, false), job(batchBlocks/2, false)}, true},
		{"one piece of half the block bound", []*hashJob{job(batchBlocks/2, false)}, false},
	} {
		if got := p.enough(c.batch); got != c.want {
			t.Errorf("%s: enough %v, want %v", c.name, got, c.want)
		}
	}
}
