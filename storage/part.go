package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// Files the user skips are not created. A piece that straddles a skipped
// file and a wanted one is still downloaded and verified, so the bytes it
// holds of the skipped file must live somewhere: in the torrent's part
// file, a sparse file under the download directory that holds them at
// their offset in the torrent's byte stream (libtorrent and qBittorrent
// keep a ".parts" file for the same reason). Skipped files thus never
// appear half-filled; when one is wanted again, the bytes it has in the
// part file move into it.

// partFile is the lazily opened part file.
type partFile struct {
	rel   string // path under the root
	mu    sync.Mutex
	f     *os.File
	wmu   sync.Mutex // serializes writes, as for data files
	dirty bool
}

// open returns the part file, creating it if create is set; a missing one
// without create yields an error wrapping fs.ErrNotExist.
func (p *partFile) open(root *os.Root, create bool) (*os.File, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		return p.f, nil
	}
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := root.OpenFile(p.rel, flag, 0o644)
	if err != nil {
		return nil, err
	}
	p.f = f
	return f, nil
}

func (p *partFile) writeAt(root *os.Root, b []byte, off int64) error {
	f, err := p.open(root, true)
	if err != nil {
		return err
	}
	p.wmu.Lock()
	_, err = f.WriteAt(b, off)
	p.wmu.Unlock()
	p.mu.Lock()
	p.dirty = true
	p.mu.Unlock()
	return err
}

// readAt reads from the part file; bytes it never got (beyond its end)
// are missing: an error wrapping io.ErrUnexpectedEOF, as for a short file.
func (p *partFile) readAt(root *os.Root, b []byte, off int64) error {
	f, err := p.open(root, false)
	if err != nil {
		return err
	}
	n, err := f.ReadAt(b, off)
	if n < len(b) {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("storage: %s: %w", p.rel, io.ErrUnexpectedEOF)
		}
		return err
	}
	return nil
}

// size returns the part file's size, -1 when it does not exist.
func (p *partFile) size(root *os.Root) (int64, error) {
	st, err := root.Stat(p.rel)
	if errors.Is(err, fs.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (p *partFile) sync() error {
	p.mu.Lock()
	f, dirty := p.f, p.dirty
	p.dirty = false
	p.mu.Unlock()
	if f == nil || !dirty {
		return nil
	}
	return f.Sync()
}

func (p *partFile) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	return err
}

// SetSkipped sets which files are skipped (skip[i] for file i; padding
// entries are ignored). A skipped file that does not exist yet is never
// created: what straddling pieces hold of it goes to the part file. A
// skipped file that already exists keeps its data and is used as it is.
// A file no longer skipped gets the bytes it has in the part file (those of
// the pieces it shares with its neighbours). SetSkipped waits for reads and
// writes in progress; it is safe to call at any time.
func (s *Storage) SetSkipped(skip []bool) error {
	if len(skip) != len(s.files) {
		return fmt.Errorf("storage: SetSkipped with %d flags for %d files", len(skip), len(s.files))
	}
	s.route.Lock()
	defer s.route.Unlock()
	for i := range s.files {
		f := &s.files[i]
		if f.padding || skip[i] == f.skipped {
			continue
		}
		if skip[i] {
			f.skipped = true
			if _, err := s.root.Stat(f.rel); errors.Is(err, fs.ErrNotExist) {
				f.inPart = true
			}
			continue
		}
		if f.inPart {
			if err := s.unpart(i); err != nil {
				return err
			}
		}
		f.skipped, f.inPart = false, false
	}
	return nil
}

// unpart moves file i's bytes out of the part file: all of them, not only
// those of the first and last pieces it shares with its neighbours, since a
// piece inside a skipped file is written there too when a streaming reader
// reads it (reading raises the priority of what is read). Runs of zeros
// (the part file's holes, mostly) are not written: the file is created
// sparse at its length, so they read as zeros already. s.route is held.
func (s *Storage) unpart(i int) error {
	f := &s.files[i]
	if s.readOnly || f.length == 0 {
		f.inPart = false
		if f.length == 0 && !s.readOnly {
			h, err := s.fc.acquire(i, true)
			if err != nil {
				return err
			}
			s.fc.release(h, false)
		}
		return nil
	}
	psize, err := s.part.size(s.root)
	if err != nil || psize <= f.offset {
		return err // nothing of it in the part file
	}
	end := min(f.offset+f.length, psize)
	f.inPart = false                // the writes below go to the file
	h, err := s.fc.acquire(i, true) // the file, sparse at its length
	if err != nil {
		return err
	}
	s.fc.release(h, false)
	buf := make([]byte, 64<<10)
	for off := f.offset; off < end; {
		b := buf[:min(int64(len(buf)), end-off)]
		if err := s.part.readAt(s.root, b, off); err != nil {
			return err
		}
		if !allZero(b) {
			if err := s.writeFile(i, b, off-f.offset); err != nil {
				return err
			}
		}
		off += int64(len(b))
	}
	return nil
}

// allZero reports whether b holds only zeros.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// writeFile writes b at pos of file i (not padding, not in the part file).
func (s *Storage) writeFile(i int, b []byte, pos int64) error {
	h, err := s.fc.acquire(i, true)
	if err != nil {
		return err
	}
	h.wmu.Lock()
	_, err = h.f.WriteAt(b, pos)
	h.wmu.Unlock()
	s.fc.release(h, true)
	return err
}
