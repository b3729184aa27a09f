package session

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/effusion-bt/effusion/peerwire"
)

// memStore records the pieces written, or fails the ones in fail.
type memStore struct {
	mu     sync.Mutex
	pieces map[int][]byte
	fail   map[int]bool
}

var errDiskFull = errors.New("disk full")

func (s *memStore) WritePiece(index int, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[index] {
		return errDiskFull
	}
	s.pieces[index] = slices.Clone(data)
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
		b := newBlock()
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
	h := &hasher{store: store, done: func(r hashResult) { results[r.index] = r }}
	w := &hashWorker{sum: sha1.New()}
	// Batches of 8 (one full group), 1 (the single path), 8 starting with
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
	h := newHasher(store, func(r hashResult) {
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
