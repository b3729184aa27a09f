package storage

import (
	"context"
	"crypto/sha1"
	"errors"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/effusion-bt/effusion/peerwire"
)

// VerifyPiece reports whether data hashes (SHA-1) to want.
func VerifyPiece(data []byte, want [20]byte) bool {
	return sha1.Sum(data) == want
}

// checkChunk is how much of a piece a Check worker reads at a time: small
// enough that the bytes just read are still in the core's cache when they
// are hashed, large enough that the pread costs little.
const checkChunk = 128 << 10

// Check hashes the data already on disk and returns the pieces that match
// their hash. Pieces that touch a missing or too-short file are missing
// without being read; no file is created. Hashing runs on Options.Workers
// goroutines (one reusable chunk buffer and SHA-1 state each), all ended
// before Check returns. progress, if not nil, is called from Check's own
// goroutine after each piece, with the number of pieces done and the total.
//
// A read error other than a missing or short file aborts the check and is
// returned; so is ctx's error if it ends first.
func (s *Storage) Check(ctx context.Context, progress func(done, total int)) (peerwire.Bitfield, error) {
	n := len(s.hashes)
	have := peerwire.NewBitfield(n)
	present, err := s.presentFiles()
	if err != nil {
		return peerwire.Bitfield{}, err
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
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, min(checkChunk, s.pieceLen))
			h := sha1.New()
			var sum [sha1.Size]byte
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				ok := false
				if s.onHash != nil {
					s.onHash()
				}
				if s.piecePresent(i, present) {
					var err error
					ok, err = s.hashPiece(i, buf, h, sum[:0])
					if err != nil {
						errOnce.Do(func() { workErr = err })
						cancel()
						return
					}
				}
				select {
				case results <- result{i, ok}:
				case <-ctx.Done():
					return
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
		return peerwire.Bitfield{}, workErr
	}
	if done < n {
		return peerwire.Bitfield{}, parent.Err()
	}
	return have, nil
}

// presentFiles stats every data file through the root (no creation) and
// returns how many bytes of each exist: -1 for a missing file.
func (s *Storage) presentFiles() ([]int64, error) {
	present := make([]int64, len(s.files))
	for i, f := range s.files {
		if f.padding || f.length == 0 {
			present[i] = f.length
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

type hasher interface {
	io.Writer
	Reset()
	Sum([]byte) []byte
}

func (s *Storage) hashPiece(i int, buf []byte, h hasher, sum []byte) (bool, error) {
	h.Reset()
	off := int64(i) * s.pieceLen
	for left := s.PieceLen(i); left > 0; {
		chunk := buf[:min(int64(len(buf)), left)]
		if _, err := s.ReadAt(chunk, off); err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, io.ErrUnexpectedEOF) {
				return false, nil // changed under us: treat as missing
			}
			return false, err
		}
		h.Write(chunk)
		off += int64(len(chunk))
		left -= int64(len(chunk))
	}
	return [20]byte(h.Sum(sum)) == s.hashes[i], nil
}
