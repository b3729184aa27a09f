package metainfo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/sha1x"
)

// Piece lengths Build chooses from when none is given, and accepts.
const (
	MinBuildPieceLength = 16 << 10
	MaxAutoPieceLength  = 16 << 20
	targetPieces        = 2000
	defaultCreatedBy    = "effusion"
)

// Errors from Build about its input (as opposed to I/O errors).
var (
	// ErrNoData: nothing to share (no regular files, or only empty ones).
	ErrNoData = errors.New("metainfo: nothing to share (no data)")
	// ErrBadOption: an unusable option (piece length, name) or input shape.
	ErrBadOption = errors.New("metainfo: cannot build")
)

// BuildOptions control Build. The zero value makes a public, trackerless
// torrent with a chosen piece length.
type BuildOptions struct {
	// PieceLength in bytes: a power of two from 16 KiB to 512 MiB. Zero
	// chooses one with ChoosePieceLength.
	PieceLength int64
	// Name overrides the torrent's name (default: the base name of path).
	Name string
	// Trackers are announce tiers (BEP 12). The first URL becomes
	// "announce"; "announce-list" is written when there is more than one URL.
	Trackers [][]string
	Private  bool     // BEP 27 "private": 1 (omitted when false, as mktorrent does)
	WebSeeds []string // BEP 19 "url-list": a string for one URL, a list for several
	Comment  string
	Source   string // "source" inside info (changes the info-hash)
	// CreatedBy defaults to "effusion".
	CreatedBy string
	// CreationDate defaults to now; NoDate omits it.
	CreationDate time.Time
	NoDate       bool
	// Workers is the number of hashing goroutines (default GOMAXPROCS).
	Workers int
	// Progress, if set, is called with the bytes hashed so far and the
	// total, from the goroutine that called Build, after every piece.
	Progress func(done, total int64)
}

// ChoosePieceLength picks the smallest power of two from 16 KiB to 16 MiB
// that cuts total bytes into at most 2000 pieces (so a torrent has about
// 1000 to 2000 pieces, as mktorrent and libtorrent aim for).
func ChoosePieceLength(total int64) int64 {
	pl := int64(MinBuildPieceLength)
	for pl < MaxAutoPieceLength && (total+pl-1)/pl > targetPieces {
		pl *= 2
	}
	return pl
}

// srcFile is one file to hash.
type srcFile struct {
	abs    string   // where to read it
	comps  []string // path inside the torrent
	rel    string   // comps joined with '/', the sort key
	length int64
	offset int64
}

// Build creates a v1 torrent from a file or a directory and returns it both
// parsed and encoded (the .torrent bytes). A directory contributes its
// regular files (symbolic links to files are followed; links to directories,
// devices and sockets are skipped) sorted by their '/'-joined relative path
// in byte order, as mktorrent does; a single file uses the "length" form.
// For the same input, piece length, name and private/source flags the info
// dictionary is byte-for-byte mktorrent's, so the info-hash is the same.
//
// Pieces are hashed by Workers goroutines reading with pread; all of them
// have returned when Build returns. Build stops early with ctx's error when
// ctx is done, and fails if a file changes size while it is read.
func Build(ctx context.Context, path string, opts BuildOptions) (*MetaInfo, []byte, error) {
	files, name, single, err := collect(path)
	if err != nil {
		return nil, nil, err
	}
	if opts.Name != "" {
		name = opts.Name
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return nil, nil, fmt.Errorf("%w: unusable torrent name %q", ErrBadOption, name)
	}
	var total int64
	for i := range files {
		files[i].offset = total
		total += files[i].length
	}
	if total == 0 {
		return nil, nil, ErrNoData
	}
	pl := opts.PieceLength
	if pl == 0 {
		pl = ChoosePieceLength(total)
	}
	if pl < MinBuildPieceLength || pl > MaxPieceLength || pl&(pl-1) != 0 {
		return nil, nil, fmt.Errorf("%w: piece length %d is not a power of two from %d to %d", ErrBadOption, pl, MinBuildPieceLength, MaxPieceLength)
	}
	npieces := (total + pl - 1) / pl
	if npieces > MaxPieces {
		return nil, nil, fmt.Errorf("%w: %d pieces exceed the limit of %d; use a larger piece length", ErrBadOption, npieces, MaxPieces)
	}

	pieces, err := hashPieces(ctx, files, total, pl, opts)
	if err != nil {
		return nil, nil, err
	}

	type fileOut struct {
		Length int64    `bencode:"length"`
		Path   []string `bencode:"path"`
	}
	info := struct {
		Files       []fileOut `bencode:"files,omitempty"`
		Length      int64     `bencode:"length,omitempty"`
		Name        string    `bencode:"name"`
		PieceLength int64     `bencode:"piece length"`
		Pieces      []byte    `bencode:"pieces"`
		Private     int64     `bencode:"private,omitempty"`
		Source      string    `bencode:"source,omitempty"`
	}{Name: name, PieceLength: pl, Pieces: pieces, Source: opts.Source}
	if opts.Private {
		info.Private = 1
	}
	if single {
		info.Length = total
	} else {
		for _, f := range files {
			info.Files = append(info.Files, fileOut{f.length, f.comps})
		}
	}
	infoBytes, err := bencode.Marshal(&info)
	if err != nil {
		return nil, nil, err
	}

	var all []string
	var tiers [][]string
	for _, tier := range opts.Trackers {
		var t []string
		for _, u := range tier {
			if u != "" {
				t = append(t, u)
				all = append(all, u)
			}
		}
		if len(t) > 0 {
			tiers = append(tiers, t)
		}
	}
	top := struct {
		Announce     string             `bencode:"announce,omitempty"`
		AnnounceList [][]string         `bencode:"announce-list,omitempty"`
		Comment      string             `bencode:"comment,omitempty"`
		CreatedBy    string             `bencode:"created by,omitempty"`
		CreationDate int64              `bencode:"creation date,omitempty"`
		Info         bencode.RawMessage `bencode:"info"`
		URLList      any                `bencode:"url-list,omitempty"`
	}{Comment: opts.Comment, CreatedBy: opts.CreatedBy, Info: infoBytes}
	if len(all) > 0 {
		top.Announce = all[0]
	}
	if len(all) > 1 {
		top.AnnounceList = tiers
	}
	if top.CreatedBy == "" {
		top.CreatedBy = defaultCreatedBy
	}
	if !opts.NoDate {
		d := opts.CreationDate
		if d.IsZero() {
			d = time.Now()
		}
		top.CreationDate = d.Unix()
	}
	switch len(opts.WebSeeds) {
	case 0:
	case 1:
		top.URLList = opts.WebSeeds[0]
	default:
		top.URLList = opts.WebSeeds
	}
	data, err := bencode.Marshal(&top)
	if err != nil {
		return nil, nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("metainfo: the created torrent does not parse: %w", err)
	}
	return m, data, nil
}

// collect lists the files under path.
func collect(path string) (files []srcFile, name string, single bool, err error) {
	path = filepath.Clean(path)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, "", false, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", false, err
	}
	name = filepath.Base(abs)
	if fi.Mode().IsRegular() {
		return []srcFile{{abs: abs, comps: []string{name}, rel: name, length: fi.Size()}}, name, true, nil
	}
	if !fi.IsDir() {
		return nil, "", false, fmt.Errorf("%w: %s is neither a regular file nor a directory", ErrBadOption, path)
	}
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Stat(p) // follows symlinks to files
		if err != nil {
			if d.Type()&fs.ModeSymlink != 0 {
				return nil // dangling link: skip, as mktorrent does
			}
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		files = append(files, srcFile{abs: p, comps: strings.Split(rel, "/"), rel: rel, length: info.Size()})
		return nil
	})
	if err != nil {
		return nil, "", false, err
	}
	if len(files) == 0 {
		return nil, "", false, ErrNoData
	}
	slices.SortFunc(files, func(a, b srcFile) int { return strings.Compare(a.rel, b.rel) })
	return files, name, false, nil
}

// buildChunk is how much of each piece a Build worker reads at a time:
// with sha1x.Lanes pieces in flight, lanes × chunk stays in the core's
// cache between the read and the hashing.
const buildChunk = 64 << 10

// hashPieces hashes every piece with opts.Workers goroutines. Workers take
// runs of consecutive piece indices from a shared counter, read them with
// pread (across file boundaries) into their own buffers, a chunk at a
// time, hash them together (sha1x) and store the hashes; Build's
// goroutine collects completions for Progress and the first error.
func hashPieces(ctx context.Context, files []srcFile, total, pl int64, opts BuildOptions) ([]byte, error) {
	n := int((total + pl - 1) / pl)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	pieces := make([]byte, 20*n)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	type result struct {
		bytes int64
		err   error
	}
	results := make(chan result, workers*4)
	// Each worker takes runs of up to sha1x.Lanes consecutive pieces and
	// hashes them together, a chunk of each at a time, each lane reading
	// with its own pieceReader (so each keeps moving forward in a file).
	per := int64(max(1, min(sha1x.Lanes, n/workers)))
	chunk := min(pl, buildChunk)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var readers [sha1x.Lanes]pieceReader
			var bufs, chunks [sha1x.Lanes][]byte
			for k := range per {
				readers[k].files = files
				bufs[k] = make([]byte, chunk)
			}
			defer func() {
				for k := range readers {
					readers[k].close()
				}
			}()
			var m sha1x.Multi
			var sums [sha1x.Lanes][sha1x.Size]byte
			for {
				first := next.Add(per) - per
				if first >= int64(n) || ctx.Err() != nil {
					return
				}
				last := min(first+per, int64(n))
				// The run's pieces of the first one's length, then a short
				// last piece of the torrent, if the run holds it, alone.
				for lo := first; lo < last; {
					length := min(pl, total-lo*pl)
					hi := lo + 1
					for hi < last && min(pl, total-hi*pl) == length {
						hi++
					}
					lanes := int(hi - lo)
					m.Reset(lanes)
					for off := int64(0); off < length; off += chunk {
						c := min(chunk, length-off)
						for k := range lanes {
							chunks[k] = bufs[k][:c]
							if err := readers[k].readAt(chunks[k], (lo+int64(k))*pl+off); err != nil {
								results <- result{err: err}
								return
							}
						}
						m.Write(&chunks)
					}
					m.Sum(&sums)
					for k := range lanes {
						copy(pieces[(lo+int64(k))*20:], sums[k][:])
						select {
						case results <- result{bytes: length}:
						case <-ctx.Done():
							return
						}
					}
					lo = hi
				}
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	var done int64
	var firstErr error
	for r := range results {
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
				cancel()
			}
			continue
		}
		done += r.bytes
		if opts.Progress != nil && firstErr == nil {
			opts.Progress(done, total)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return pieces, nil
}

// pieceReader reads the torrent's byte stream across files, keeping one
// file open at a time.
type pieceReader struct {
	files []srcFile
	cur   int
	f     *os.File
}

func (r *pieceReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

func (r *pieceReader) readAt(buf []byte, off int64) error {
	// The first file holding off: the last one starting at or before it
	// with a non-zero length reaching past it.
	i, _ := slices.BinarySearchFunc(r.files, off, func(f srcFile, off int64) int {
		if f.offset+f.length <= off {
			return -1
		}
		if f.offset > off {
			return 1
		}
		return 0
	})
	for len(buf) > 0 {
		if i >= len(r.files) {
			return fmt.Errorf("metainfo: read past the end of the data at offset %d", off)
		}
		f := &r.files[i]
		if f.length == 0 || off >= f.offset+f.length {
			i++
			continue
		}
		if r.f == nil || r.cur != i {
			r.close()
			fh, err := os.Open(f.abs)
			if err != nil {
				return err
			}
			r.f, r.cur = fh, i
		}
		want := min(int64(len(buf)), f.offset+f.length-off)
		got, err := r.f.ReadAt(buf[:want], off-f.offset)
		if int64(got) < want {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("metainfo: %s shrank while being hashed", f.abs)
			}
			return err
		}
		buf = buf[want:]
		off += want
		i++
	}
	return nil
}
