package swarm

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// payloadFile is one file of the payload: its path relative to the torrent's
// root (the payload's name for a single-file torrent) and its length.
type payloadFile struct {
	rel    string
	length int64
}

// payload is the random data the seeders serve and every leecher must copy.
type payload struct {
	name  string        // the torrent's name: a file, or a directory when multi-file
	path  string        // where the payload lives (dir/name)
	files []payloadFile // in torrent order
	size  int64
}

// ioChunk is the buffer size for writing and comparing payload data.
const ioChunk = 1 << 20

// makePayload writes size random bytes under dir: one file named name when
// files is 1, else a directory name holding files files (in two
// subdirectories, so that nested paths are exercised) whose lengths differ
// and sum to size. Every file gets at least one byte.
func makePayload(dir, name string, size int64, files int) (*payload, error) {
	if files < 1 {
		return nil, fmt.Errorf("swarm: %d files: need at least one", files)
	}
	if size < int64(files) {
		return nil, fmt.Errorf("swarm: %d bytes cannot fill %d files", size, files)
	}
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	rng := rand.NewChaCha8(seed)
	p := &payload{name: name, path: filepath.Join(dir, name), size: size}
	if files == 1 {
		p.files = []payloadFile{{rel: name, length: size}}
	} else {
		lengths := splitLengths(size, files, rand.New(rng))
		for i, l := range lengths {
			p.files = append(p.files, payloadFile{
				rel:    filepath.Join(name, fmt.Sprintf("dir-%d", i%2), fmt.Sprintf("file-%03d.bin", i)),
				length: l,
			})
		}
	}
	buf := make([]byte, ioChunk)
	for _, f := range p.files {
		if err := writeRandom(filepath.Join(dir, f.rel), f.length, rng, buf); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// splitLengths splits size into n positive lengths of random, unequal sizes.
func splitLengths(size int64, n int, r *rand.Rand) []int64 {
	w := make([]float64, n)
	var sum float64
	for i := range w {
		w[i] = 0.25 + r.Float64()
		sum += w[i]
	}
	out := make([]int64, n)
	spare := size - int64(n) // one byte each is reserved
	var used int64
	for i := range out {
		out[i] = 1 + int64(float64(spare)*w[i]/sum)
		used += out[i]
	}
	out[n-1] += size - used
	return out
}

func writeRandom(path string, n int64, rng *rand.ChaCha8, buf []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for n > 0 {
		k := min(n, int64(len(buf)))
		_, _ = rng.Read(buf[:k])
		if _, err := f.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		n -= k
	}
	return f.Close()
}

// ErrMismatch is wrapped by every *MismatchError.
var ErrMismatch = errors.New("copy differs from the payload")

// MismatchError reports the first place where a leecher's copy differs from
// the payload: a differing byte (Offset), a short or long file, or a missing one.
type MismatchError struct {
	Leecher int    // 1-based leecher number
	File    string // path relative to the download directory
	Offset  int64  // first differing byte, or the length where one file ended
	Reason  string // "content", "length" or the error opening the copy
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("leecher %d: %s: %s at byte %d: %v", e.Leecher, e.File, e.Reason, e.Offset, ErrMismatch)
}

func (e *MismatchError) Unwrap() error { return ErrMismatch }

// verify compares, byte for byte, every payload file with its copy under
// copyDir (the leecher's download directory). It returns a *MismatchError
// for the first difference, or another error if the payload itself cannot
// be read.
func (p *payload) verify(leecher int, srcDir, copyDir string) error {
	a, b := make([]byte, ioChunk), make([]byte, ioChunk)
	for _, f := range p.files {
		if err := compareFile(filepath.Join(srcDir, f.rel), filepath.Join(copyDir, f.rel), a, b); err != nil {
			var me *MismatchError
			if errors.As(err, &me) {
				me.Leecher, me.File = leecher, f.rel
			}
			return err
		}
	}
	return nil
}

func compareFile(want, got string, a, b []byte) error {
	fw, err := os.Open(want)
	if err != nil {
		return fmt.Errorf("swarm: payload: %w", err)
	}
	defer fw.Close()
	fg, err := os.Open(got)
	if err != nil {
		return &MismatchError{Reason: err.Error()}
	}
	defer fg.Close()
	var off int64
	for {
		n, errW := io.ReadFull(fw, a)
		m, errG := io.ReadFull(fg, b[:len(a)])
		if i := firstDiff(a[:n], b[:m]); i >= 0 {
			return &MismatchError{Offset: off + int64(i), Reason: "content"}
		}
		if n != m {
			return &MismatchError{Offset: off + int64(min(n, m)), Reason: "length"}
		}
		off += int64(n)
		endW := errW == io.EOF || errW == io.ErrUnexpectedEOF
		endG := errG == io.EOF || errG == io.ErrUnexpectedEOF
		switch {
		case errW != nil && !endW:
			return fmt.Errorf("swarm: payload: %w", errW)
		case errG != nil && !endG:
			return &MismatchError{Offset: off, Reason: errG.Error()}
		case endW && endG:
			return nil
		case endW || endG:
			return &MismatchError{Offset: off, Reason: "length"}
		}
	}
}

// firstDiff returns the index of the first differing byte of the common
// prefix of a and b, or -1.
func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	if bytes.Equal(a[:n], b[:n]) {
		return -1
	}
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}
