package storage

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effusion-bt/effusion/metainfo"
)

// sandbox is a download root with hostile things already in it, next to
// a directory that must never change.
//
//	sandbox/outside/secret           the file nothing may touch
//	sandbox/root/up      -> ../outside
//	sandbox/root/abs     -> sandbox/outside (absolute)
//	sandbox/root/dangle  -> ../outside/new
//	sandbox/root/loop    -> loop
//	sandbox/root/in      -> sub (stays inside)
//	sandbox/root/sub/    a directory
//	sandbox/root/plain   a file
type sandbox struct {
	dir, root, outside string
}

func newSandbox(t *testing.T) sandbox {
	t.Helper()
	dir := t.TempDir()
	s := sandbox{dir: dir, root: filepath.Join(dir, "root"), outside: filepath.Join(dir, "outside")}
	for _, d := range []string{s.outside, filepath.Join(s.root, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.root, "plain"), []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"up": "../outside", "abs": s.outside, "dangle": "../outside/new", "loop": "loop", "in": "sub",
	} {
		if err := os.Symlink(target, filepath.Join(s.root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// checkOutside fails the test if anything outside root changed: the
// sandbox holds only root and outside, and outside only the untouched secret.
func (s sandbox) checkOutside(t *testing.T) {
	t.Helper()
	var seen []string
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.root {
			return filepath.SkipDir
		}
		seen = append(seen, strings.TrimPrefix(p, s.dir))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"", "/outside", "/outside/secret"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("the sandbox outside the root now holds %q", seen)
	}
	if b, err := os.ReadFile(filepath.Join(s.outside, "secret")); err != nil || string(b) != "secret" {
		t.Fatalf("the file outside the root changed: %q %v", b, err)
	}
}

// checkSafeJoin asserts SafeJoin's contract for comps: when it accepts them,
// the path is lexically under root, and so is wherever its existing part
// resolves to.
func (s sandbox) checkSafeJoin(t *testing.T, comps []string) {
	t.Helper()
	p, err := metainfo.SafeJoin(s.root, comps)
	if err != nil {
		return
	}
	if !strings.HasPrefix(p, s.root+string(filepath.Separator)) {
		t.Fatalf("SafeJoin(%q) = %q, not under the root", comps, p)
	}
	realRoot, err := filepath.EvalSymlinks(s.root)
	if err != nil {
		t.Fatal(err)
	}
	// Resolve the longest prefix that exists.
	for q := p; len(q) > len(s.root); q = filepath.Dir(q) {
		r, err := filepath.EvalSymlinks(q)
		if err != nil {
			continue
		}
		if r != realRoot && !strings.HasPrefix(r, realRoot+string(filepath.Separator)) {
			t.Fatalf("SafeJoin(%q) accepted %q, which resolves to %q outside the root", comps, p, r)
		}
		break
	}
}

// fuzzLength maps a byte to a file length: mostly small, 255 is absurd
// (storage must refuse it without allocating).
func fuzzLength(b byte) int64 {
	if b == 255 {
		return 1 << 62
	}
	return int64(b) * 61
}

// FuzzStorageLayout opens storage over hostile file paths and sizes (files
// separated by newlines, components by "|") in a sandbox holding symbolic
// links that lead out of the download root, writes every byte of the
// torrent and reads it back. Whatever the paths, nothing outside the root
// is created or changed, and every path SafeJoin accepts stays under the
// root; absurd sizes and piece counts are refused without allocating.
func FuzzStorageLayout(f *testing.F) {
	for _, c := range []struct {
		paths   string
		lengths []byte
		piece   uint16
		viaInfo bool
	}{
		{"a|b\nc", []byte{3, 4}, 99, true},
		{"up|x\nin|y", []byte{2, 2}, 50, true},
		{"up|x", []byte{2}, 50, false},
		{"abs|x\ndangle", []byte{1, 1}, 7, false},
		{"dangle\nloop|x", []byte{1, 1}, 7, true},
		{"dangle", []byte{1}, 7, false},
		{"loop|x", []byte{1}, 7, false},
		{"..|x\n.|y\n|z", []byte{1, 1, 1}, 7, false},
		{"a/b\na\\b\nx\x00y", []byte{1, 1, 1}, 7, false},
		{"plain|x\nd|e\nd", []byte{1, 1, 1}, 1000, false},
		{"a\na", []byte{1, 1}, 16, false},
		{"big", []byte{255}, 65535, false},
		{"z\nzero", []byte{0, 0}, 1, true},
		{"in|sub2|f\nsub|g", []byte{9, 9}, 13, true},
	} {
		f.Add(c.paths, c.lengths, c.piece, c.viaInfo)
	}
	f.Fuzz(func(t *testing.T, paths string, lengths []byte, piece uint16, viaInfo bool) {
		lines := strings.Split(paths, "\n")
		if len(lines) > 8 || len(paths) > 512 {
			return
		}
		s := newSandbox(t)
		layout := Layout{PieceLength: int64(piece) + 1}
		var total int64
		for i, line := range lines {
			n := int64(0)
			if i < len(lengths) {
				n = fuzzLength(lengths[i])
			}
			comps := strings.Split(line, "|")
			layout.Files = append(layout.Files, File{Path: comps, Length: n})
			total += n
			s.checkSafeJoin(t, comps)
		}
		pieces := (total + layout.PieceLength - 1) / layout.PieceLength
		if pieces > 4096 {
			pieces = 1 // inconsistent on purpose: must be refused
		}
		// Two files of 1<<62 bytes overflow the sum: the layout must be
		// refused, and the test has no bytes to write for it.
		data := make([]byte, max(0, min(total, 1<<20)))
		for i := range data {
			data[i] = byte(i*7 + 3)
		}
		for i := range pieces {
			off := i * layout.PieceLength
			end := min(off+layout.PieceLength, int64(len(data)))
			if off < end {
				layout.Hashes = append(layout.Hashes, sha1.Sum(data[off:end]))
			} else {
				layout.Hashes = append(layout.Hashes, [20]byte{})
			}
		}
		var st *Storage
		var err error
		if viaInfo {
			info := &metainfo.Info{PieceLength: layout.PieceLength, Pieces: layout.Hashes, Length: total}
			var off int64
			for _, fl := range layout.Files {
				info.Files = append(info.Files, metainfo.File{Path: fl.Path, Length: fl.Length, Offset: off})
				off += fl.Length
			}
			st, err = Open(s.root, info, Options{MaxOpenFiles: 2})
		} else {
			st, err = OpenLayout(s.root, layout, Options{MaxOpenFiles: 2})
		}
		if err == nil {
			if total > 1<<20 || total < 0 {
				st.Close()
				t.Fatalf("a torrent of %d bytes opened", total)
			}
			_, werr := st.WriteAt(data, 0)
			if werr == nil {
				got := make([]byte, len(data))
				if _, rerr := st.ReadAt(got, 0); rerr != nil || !bytes.Equal(got, data) {
					st.Close()
					t.Fatalf("read back %v, equal %v", rerr, bytes.Equal(got, data))
				}
			}
			if cerr := st.Close(); cerr != nil && !errors.Is(cerr, fs.ErrNotExist) {
				t.Logf("close: %v", cerr)
			}
		}
		s.checkOutside(t)
		for _, fl := range layout.Files {
			s.checkSafeJoin(t, fl.Path) // again, now that files exist
		}
	})
}
