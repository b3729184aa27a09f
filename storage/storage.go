package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// DefaultMaxOpenFiles is the file handle cache size when Options leaves it 0.
const DefaultMaxOpenFiles = 64

// Options configures a Storage. The zero value is usable.
type Options struct {
	// MaxOpenFiles bounds the open file handles; 0 means DefaultMaxOpenFiles.
	MaxOpenFiles int
	// Files, when set, is a cap on open files shared with other Storages
	// (a client's process-wide limit), on top of MaxOpenFiles.
	Files *FileLimit
	// Workers is the number of hashing goroutines of Check; 0 means
	// runtime.GOMAXPROCS(0).
	Workers int
	// ReadOnly opens files read-only (seeding data we may not modify) and
	// makes every write fail with ErrReadOnly. Open then does not create
	// the download directory either.
	ReadOnly bool
	// PartFile is the path, under the download directory, of the file that
	// holds what straddling pieces contain of skipped files (SetSkipped);
	// empty means "." + the first path component of the first file +
	// ".parts". It is created only when needed.
	PartFile string
	// BufferedWrites writes every piece through the page cache. By default
	// (on Linux) a piece whose file offset, blocks and lengths are
	// 4096-aligned is written with O_DIRECT (a second handle of the file,
	// opened at its first such write; a file system that refuses it gets
	// buffered writes): a download does not fill the page cache with what
	// it will not read again soon, and its writes cost the same CPU
	// whatever the state of the machine's memory. The rest (a torrent's
	// last block, pieces across unaligned file boundaries) is buffered.
	BufferedWrites bool
}

// Errors returned by Storage.
var (
	ErrClosed   = errors.New("storage: closed")
	ErrReadOnly = errors.New("storage: read-only")
	// ErrRange is wrapped by errors about a piece index, offset or length
	// outside the torrent.
	ErrRange = errors.New("storage: out of range")
)

// Storage reads and writes one torrent's data under a download directory.
// All methods are safe for concurrent use, except that Close must not race
// with the others; concurrent writes to the same bytes are the caller's
// business.
type Storage struct {
	root         *os.Root
	files        []fileEntry
	pieceLen     int64
	total        int64
	hashes       [][20]byte
	workers      int
	readOnly     bool
	direct       bool // O_DIRECT for aligned pieces (not Options.BufferedWrites)
	fc           *fileCache
	part         partFile
	route        sync.RWMutex // held for reading by every access; for writing while SetSkipped moves files
	createdEmpty atomic.Bool  // zero-length files exist
	onHash       func()       // test hook: called as a Check worker starts a run of pieces
}

// OpenLayout prepares storage for layout under dir (created unless
// opts.ReadOnly). It opens no data file: files are opened on first use and
// created on first write.
func OpenLayout(dir string, layout Layout, opts Options) (*Storage, error) {
	files, total, err := buildFiles(layout)
	if err != nil {
		return nil, err
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	maxOpen := opts.MaxOpenFiles
	if maxOpen <= 0 {
		maxOpen = DefaultMaxOpenFiles
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	part := opts.PartFile
	if part == "" {
		part = "." + layout.Files[0].Path[0] + ".parts"
	}
	return &Storage{
		root:     root,
		files:    files,
		pieceLen: layout.PieceLength,
		total:    total,
		hashes:   layout.Hashes,
		workers:  workers,
		readOnly: opts.ReadOnly,
		direct:   !opts.BufferedWrites && directFlag != 0,
		fc:       newFileCache(root, files, maxOpen, opts.ReadOnly, opts.Files),
		part:     partFile{rel: part},
	}, nil
}

// NumPieces returns the torrent's piece count.
func (s *Storage) NumPieces() int { return len(s.hashes) }

// PieceLength returns the nominal piece length.
func (s *Storage) PieceLength() int64 { return s.pieceLen }

// TotalLength returns the torrent's size in bytes, padding included.
func (s *Storage) TotalLength() int64 { return s.total }

// PieceLen returns the length of piece i (the last one may be shorter), or
// 0 if i is out of range.
func (s *Storage) PieceLen(i int) int64 {
	if i < 0 || i >= len(s.hashes) {
		return 0
	}
	return min(s.pieceLen, s.total-int64(i)*s.pieceLen)
}

// PieceHash returns the expected SHA-1 of piece i; i must be in range.
func (s *Storage) PieceHash(i int) [20]byte { return s.hashes[i] }

func (s *Storage) rangeErr(what string, index int, begin, n int64) error {
	return fmt.Errorf("%w: %s piece %d [%d, +%d) (pieces: %d, length %d)", ErrRange, what, index, begin, n, len(s.hashes), s.PieceLen(index))
}

// WritePiece writes a whole verified piece; len(data) must be PieceLen(index).
// The piece may span several files; each part is one pwrite. Parts falling
// in padding files are dropped.
func (s *Storage) WritePiece(index int, data []byte) error {
	if index < 0 || index >= len(s.hashes) || int64(len(data)) != s.PieceLen(index) {
		return s.rangeErr("write", index, 0, int64(len(data)))
	}
	_, err := s.WriteAt(data, int64(index)*s.pieceLen)
	return err
}

// WritePieceBlocks writes piece index held as consecutive blocks, which
// must add up to the piece's length, with one vectored write per file
// (WriteBlocksAt): a piece received as 16 KiB blocks reaches the disk
// without being gathered into one buffer first.
func (s *Storage) WritePieceBlocks(index int, blocks [][]byte) error {
	var n int64
	for _, b := range blocks {
		n += int64(len(b))
	}
	if index < 0 || index >= len(s.hashes) || n != s.PieceLen(index) {
		return s.rangeErr("write", index, 0, n)
	}
	_, err := s.WriteBlocksAt(blocks, int64(index)*s.pieceLen)
	return err
}

// ReadBlock fills buf with the bytes of piece index starting at begin (for
// serving a request). The range must lie inside the piece.
func (s *Storage) ReadBlock(index int, begin int64, buf []byte) error {
	if index < 0 || index >= len(s.hashes) || begin < 0 || begin+int64(len(buf)) > s.PieceLen(index) {
		return s.rangeErr("read", index, begin, int64(len(buf)))
	}
	_, err := s.ReadAt(buf, int64(index)*s.pieceLen+begin)
	return err
}

// ReadPiece reads piece index into buf, which must be PieceLen(index) long.
func (s *Storage) ReadPiece(index int, buf []byte) error {
	if index < 0 || index >= len(s.hashes) || int64(len(buf)) != s.PieceLen(index) {
		return s.rangeErr("read", index, 0, int64(len(buf)))
	}
	_, err := s.ReadAt(buf, int64(index)*s.pieceLen)
	return err
}

// locate returns the index of the file holding torrent offset off
// (skipping empty files), or len(files) at the end.
func (s *Storage) locate(off int64) int {
	lo, hi := 0, len(s.files)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if f := &s.files[m]; f.offset+f.length > off {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

// WriteAt writes p at torrent offset off, across files, creating files as
// needed. It implements io.WriterAt; a write past the end fails with
// ErrRange and writes nothing.
func (s *Storage) WriteAt(p []byte, off int64) (int, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if off < 0 || off+int64(len(p)) > s.total {
		return 0, fmt.Errorf("%w: write [%d, +%d) of %d bytes", ErrRange, off, len(p), s.total)
	}
	if !s.createdEmpty.Load() {
		if err := s.createEmptyFiles(); err != nil {
			return 0, err
		}
	}
	s.route.RLock()
	defer s.route.RUnlock()
	done := 0
	for i := s.locate(off); done < len(p); i++ {
		f := &s.files[i]
		pos := off + int64(done) - f.offset
		n := int(min(int64(len(p)-done), f.length-pos))
		var err error
		switch {
		case f.padding:
		case f.inPart:
			err = s.part.writeAt(s.root, p[done:done+n], f.offset+pos)
		default:
			err = s.writeFile(i, p[done:done+n], pos)
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

// ReadAt reads len(p) bytes at torrent offset off, across files; padding
// reads as zeros. It implements io.ReaderAt. A missing file yields an
// error wrapping fs.ErrNotExist, a short one io.ErrUnexpectedEOF, and a
// read past the end ErrRange. It never creates a file.
func (s *Storage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > s.total {
		return 0, fmt.Errorf("%w: read [%d, +%d) of %d bytes", ErrRange, off, len(p), s.total)
	}
	s.route.RLock()
	defer s.route.RUnlock()
	done := 0
	for i := s.locate(off); done < len(p); i++ {
		f := &s.files[i]
		pos := off + int64(done) - f.offset
		n := int(min(int64(len(p)-done), f.length-pos))
		dst := p[done : done+n]
		switch {
		case f.padding:
			clear(dst)
		case f.inPart:
			if err := s.part.readAt(s.root, dst, f.offset+pos); err != nil {
				return done, err
			}
		default:
			h, err := s.fc.acquire(i, false)
			if err != nil {
				return done, err
			}
			m, err := h.f.ReadAt(dst, pos)
			s.fc.release(h, false)
			if m < n {
				if err == nil || err == io.EOF {
					err = fmt.Errorf("storage: %s: %w", f.rel, io.ErrUnexpectedEOF)
				}
				return done + m, err
			}
		}
		done += n
	}
	return done, nil
}

// createEmptyFiles creates the torrent's zero-length files, which no piece
// covers, when the first piece is written.
// It may run more than once concurrently; creating a file twice is harmless.
func (s *Storage) createEmptyFiles() error {
	defer s.createdEmpty.Store(true)
	s.route.RLock()
	defer s.route.RUnlock()
	for i, f := range s.files {
		if f.length == 0 && !f.padding && !f.skipped {
			h, err := s.fc.acquire(i, true)
			if err != nil {
				return err
			}
			s.fc.release(h, false)
		}
	}
	return nil
}

// Sync flushes to disk every file written since the last Sync (and the
// part file).
func (s *Storage) Sync() error {
	err := s.fc.sync()
	if perr := s.part.sync(); err == nil {
		err = perr
	}
	return err
}

// Close closes all files. It does not fsync them: call Sync first when
// the data must be on the disk rather than with the kernel (a process that
// exits or crashes loses nothing the kernel holds). Later calls fail with
// ErrClosed.
func (s *Storage) Close() error {
	err := s.fc.close()
	if perr := s.part.close(); err == nil {
		err = perr
	}
	if rerr := s.root.Close(); err == nil && rerr != nil && !errors.Is(rerr, os.ErrClosed) {
		err = rerr
	}
	return err
}
