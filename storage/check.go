package storage

import (
	"context"
	"crypto/sha1"
	"errors"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/sha1x"
)

// VerifyPiece reports whether data hashes (SHA-1) to want.
func VerifyPiece(data []byte, want [20]byte) bool {
	return sha1.Sum(data) == want
}

// checkChunk is how much of a piece a Check worker reads at a time, for
// each of the up to sha1x.Lanes pieces it hashes together: small enough
// that the bytes just read (lanes × chunk) are still in the core's cache
// when they are hashed, large enough that the pread costs little.
const checkChunk = 64 << 10

// Check hashes the data already on disk and returns the pieces that match
// their hash. Pieces that touch a missing or too-short file are missing
// without being read; no file is created. Hashing runs on Options.Workers
// goroutines, all ended before Check returns; each takes a run of pieces
// (up to sha1x.Lanes) and hashes them together, with reusable chunk
// buffers. progress, if not nil, is called from Check's own goroutine after
// each piece, with the number of pieces done and the total.
//
// A read error other than a missing or short file aborts the check and is
// returned; so is ctx's error if it ends first.
func (s *Storage) Check(ctx context.Context, progress func(done, total int)) (bitset.Set, error) {
	return s.CheckPieces(ctx, bitset.Set{}, progress)
}

// CheckPieces is Check for the pieces in which only (all of them when
// which is the zero Set): the others are reported missing without being
// read, and progress counts only the pieces checked. A resume that trusts
// what it knows of some files rechecks the rest this way.
func (s *Storage) CheckPieces(ctx context.Context, which bitset.Set, progress func(done, total int)) (bitset.Set, error) {
	have := bitset.New(len(s.hashes))
	var todo []int
	if which.Len() == 0 {
		todo = make([]int, len(s.hashes))
		for i := range todo {
			todo[i] = i
		}
	} else {
		which.Each(func(i int) {
			if i < len(s.hashes) {
				todo = append(todo, i)
			}
		})
	}
	n := len(todo)
	if n == 0 {
		return have, ctx.Err()
	}
	present, err := s.presentFiles()
	if err != nil {
		return bitset.Set{}, err
	}
	type result struct {
		index int
		ok    bool
	}
	results := make(chan result, 64)
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		workErr error
	)
	workers := max(1, min(s.workers, n))
	// Runs short enough that every worker gets some of a small torrent.
	per := max(1, min(sha1x.Lanes, n/workers))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := checkWorker{s: s, present: present}
			for k := range per {
				w.bufs[k] = make([]byte, min(checkChunk, s.pieceLen))
			}
			for ctx.Err() == nil {
				first := int(next.Add(int64(per)) - int64(per))
				if first >= n {
					return
				}
				run := todo[first:min(first+per, n)]
				if s.onHash != nil {
					s.onHash()
				}
				ok, err := w.hashRun(run)
				if err != nil {
					errOnce.Do(func() { workErr = err })
					cancel()
					return
				}
				for k, i := range run {
					select {
					case results <- result{i, ok[k]}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	done := 0
	for r := range results {
		if parent.Err() != nil {
			cancel() // stop the workers; keep draining until they are gone
			continue
		}
		if r.ok {
			have.Set(r.index)
		}
		done++
		if progress != nil {
			progress(done, n)
		}
	}
	if workErr != nil {
		return bitset.Set{}, workErr
	}
	if done < n {
		return bitset.Set{}, parent.Err()
	}
	return have, nil
}

// presentFiles stats every data file through the root (no creation) and
// returns how many bytes of each exist: -1 for a missing file.
func (s *Storage) presentFiles() ([]int64, error) {
	present := make([]int64, len(s.files))
	psize, err := s.part.size(s.root)
	if err != nil {
		return nil, err
	}
	s.route.RLock()
	defer s.route.RUnlock()
	for i, f := range s.files {
		if f.padding || f.length == 0 {
			present[i] = f.length
			continue
		}
		if f.inPart { // what the part file holds of it
			present[i] = max(-1, min(f.length, psize-f.offset))
			continue
		}
		st, err := s.root.Stat(f.rel)
		switch {
		case err == nil && st.Mode().IsRegular():
			present[i] = st.Size()
		case err == nil || errors.Is(err, fs.ErrNotExist):
			present[i] = -1 // missing, or not a regular file
		default:
			return nil, err
		}
	}
	return present, nil
}

func (s *Storage) piecePresent(i int, present []int64) bool {
	start := int64(i) * s.pieceLen
	end := start + s.PieceLen(i)
	for j := s.locate(start); j < len(s.files) && s.files[j].offset < end; j++ {
		f := s.files[j]
		need := min(end, f.offset+f.length) - f.offset
		if present[j] < need {
			return false
		}
	}
	return true
}

// checkWorker is one Check goroutine's reusable state.
type checkWorker struct {
	s       *Storage
	present []int64
	bufs    [sha1x.Lanes][]byte // a chunk buffer per lane
	multi   sha1x.Multi
}

// hashRun hashes the pieces of run (at most sha1x.Lanes): those present
// with the same length together, any other alone. ok[k] reports whether
// piece run[k] is present and matches its hash.
func (w *checkWorker) hashRun(run []int) (ok [sha1x.Lanes]bool, err error) {
	var group, odd [sha1x.Lanes]int // positions in run
	ng, no := 0, 0
	for k, i := range run {
		switch {
		case !w.s.piecePresent(i, w.present):
		case ng == 0 || w.s.PieceLen(i) == w.s.PieceLen(run[group[0]]):
			group[ng] = k
			ng++
		default:
			odd[no] = k
			no++
		}
	}
	if ng > 0 {
		if err := w.hashGroup(run, group[:ng], &ok); err != nil {
			return ok, err
		}
	}
	for _, k := range odd[:no] {
		if err := w.hashGroup(run, []int{k}, &ok); err != nil {
			return ok, err
		}
	}
	return ok, nil
}

// hashGroup hashes the pieces run[pos[...]], of equal length, in
// lockstep, a chunk of each at a time. A piece whose file vanished or
// shrank under us counts as missing; other read errors are returned.
func (w *checkWorker) hashGroup(run, pos []int, ok *[sha1x.Lanes]bool) error {
	s := w.s
	idx := make([]int, len(pos)) // at most sha1x.Lanes: stays on the stack
	for k, p := range pos {
		idx[k] = run[p]
	}
	length := s.PieceLen(idx[0])
	var dead [sha1x.Lanes]bool
	var chunks [sha1x.Lanes][]byte
	w.multi.Reset(len(idx))
	for off := int64(0); off < length; {
		c := min(int64(len(w.bufs[0])), length-off)
		for k, i := range idx {
			chunks[k] = w.bufs[k][:c]
			if dead[k] {
				continue // hashed anyway (lanes move together), ignored
			}
			if _, err := s.ReadAt(chunks[k], int64(i)*s.pieceLen+off); err != nil {
				if errors.Is(err, fs.ErrNotExist) || errors.Is(err, io.ErrUnexpectedEOF) {
					dead[k] = true // changed under us: treat as missing
					continue
				}
				return err
			}
		}
		w.multi.Write(&chunks)
		off += c
	}
	var sums [sha1x.Lanes][sha1x.Size]byte
	w.multi.Sum(&sums)
	for k, i := range idx {
		ok[pos[k]] = !dead[k] && sums[k] == s.hashes[i]
	}
	return nil
}
