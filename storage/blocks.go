package storage

import (
	"fmt"
	"os"
)

// WriteBlocksAt writes the concatenation of blocks at torrent offset off,
// like WriteAt, but with one vectored write (pwritev) per file the range
// touches instead of one pwrite per block: a verified piece still held as
// its 16 KiB blocks goes to disk in one system call when it lies in one
// file. The blocks are not copied.
func (s *Storage) WriteBlocksAt(blocks [][]byte, off int64) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	total := 0
	for _, b := range blocks {
		total += len(b)
	}
	if off < 0 || off+int64(total) > s.total {
		return 0, fmt.Errorf("%w: write [%d, +%d) of %d bytes", ErrRange, off, total, s.total)
	}
	if !s.createdEmpty.Load() {
		if err := s.createEmptyFiles(); err != nil {
			return 0, err
		}
	}
	s.route.RLock()
	defer s.route.RUnlock()
	var arr [64][]byte // a 1 MiB piece of 16 KiB blocks, without allocating
	iovs := arr[:0]
	bi, bpos := 0, 0 // cursor in blocks
	done := 0
	for i := s.locate(off); done < total; i++ {
		f := &s.files[i]
		pos := off + int64(done) - f.offset
		n := int(min(int64(total-done), f.length-pos))
		iovs = iovs[:0]
		for need := n; need > 0; {
			b := blocks[bi][bpos:]
			if len(b) > need {
				b = b[:need]
			}
			iovs = append(iovs, b)
			need -= len(b)
			bpos += len(b)
			if bpos == len(blocks[bi]) {
				bi, bpos = bi+1, 0
			}
		}
		switch {
		case f.padding:
		case f.inPart:
			// Rare (a piece straddling a skipped file): one write per block.
			at := f.offset + pos
			for _, b := range iovs {
				if err := s.part.writeAt(s.root, b, at); err != nil {
					return done, err
				}
				at += int64(len(b))
			}
		default:
			h, err := s.fc.acquire(i, true)
			if err != nil {
				return done, err
			}
			h.wmu.Lock()
			err = s.writeVec(h, iovs, pos)
			h.wmu.Unlock()
			s.fc.release(h, true)
			if err != nil {
				return done, err
			}
		}
		done += n
	}
	return done, nil
}

// advance drops the first n bytes written from iovs, and the empty
// buffers after them, after a (short) vectored write.
func advance(iovs [][]byte, n int) [][]byte {
	for len(iovs) > 0 && (n > 0 || len(iovs[0]) == 0) {
		if n >= len(iovs[0]) {
			n -= len(iovs[0])
			iovs = iovs[1:]
		} else {
			iovs[0] = iovs[0][n:]
			n = 0
		}
	}
	return iovs
}

// writeEach is the portable fallback of pwritev: one WriteAt per buffer.
func writeEach(f *os.File, iovs [][]byte, off int64) error {
	for _, b := range iovs {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// writeVec writes iovs at pos of h's file: with O_DIRECT when the storage
// writes so and the write is aligned (see Options.BufferedWrites), else
// through the page cache. The caller holds h.wmu.
func (s *Storage) writeVec(h *handle, iovs [][]byte, pos int64) error {
	if s.direct && !h.noDirect && alignedForDirect(iovs, pos) {
		if h.d == nil {
			d, err := s.root.OpenFile(s.files[h.idx].rel, os.O_WRONLY|directFlag, 0)
			h.d, h.noDirect = d, err != nil // refused: not for this file system (or this file)
		}
		if h.d != nil {
			err := pwritev(h.d, iovs, pos)
			if err == nil || !isDirectRefused(err) {
				return err
			}
			h.noDirect = true
		}
	}
	return pwritev(h.f, iovs, pos)
}
