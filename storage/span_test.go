package storage

import (
	"bytes"
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

// TestFileSpan: a range inside one file comes back as that file and offset
// (its bytes are the torrent's), a range across files or in padding is
// refused with ok false, a bad range or a missing file is an error.
func TestFileSpan(t *testing.T) {
	fx := multiFixture(t) // a.bin [0,1500) b.bin [1500,1800) pad [1800,2000) c.bin [2000,4600) d.bin [4600,4607)
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	if _, _, err := s.FileSpan(0, 0, 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("span of a file not written yet: %v", err)
	}
	for i := range fx.layout.Hashes {
		if err := s.WritePiece(i, fx.piece(i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		index        int
		begin        int64
		n            int
		ok           bool
		torrentStart int64
	}{
		{0, 0, 1000, true, 0},
		{1, 0, 500, true, 1000},   // the end of a.bin
		{1, 400, 200, false, 0},   // a.bin into b.bin
		{1, 500, 300, true, 1500}, // all of b.bin
		{1, 850, 100, false, 0},   // padding
		{1, 700, 200, false, 0},   // b.bin into padding
		{3, 10, 990, true, 3010},  // inside c.bin
		{4, 600, 7, true, 4600},   // d.bin
	} {
		sp, ok, err := s.FileSpan(c.index, c.begin, c.n)
		if err != nil || ok != c.ok {
			t.Fatalf("FileSpan(%d, %d, %d) = ok %v, %v; want ok %v", c.index, c.begin, c.n, ok, err, c.ok)
		}
		if !ok {
			continue
		}
		if sp.N != c.n {
			t.Fatalf("span length %d, want %d", sp.N, c.n)
		}
		buf := make([]byte, sp.N)
		if n, err := syscall.Pread(int(sp.Fd()), buf, sp.Off); err != nil || n != sp.N {
			t.Fatalf("pread span: %d, %v", n, err)
		}
		sp.Release()
		if want := fx.data[c.torrentStart : c.torrentStart+int64(c.n)]; !bytes.Equal(buf, want) {
			t.Fatalf("FileSpan(%d, %d, %d): bytes at file offset %d differ from the torrent's", c.index, c.begin, c.n, sp.Off)
		}
	}
	for _, bad := range [][3]int64{{-1, 0, 1}, {5, 0, 1}, {0, 900, 200}, {0, 0, 0}, {4, 600, 8}} {
		if _, _, err := s.FileSpan(int(bad[0]), bad[1], int(bad[2])); !errors.Is(err, ErrRange) {
			t.Fatalf("FileSpan%v: %v, want ErrRange", bad, err)
		}
	}
	s.fc.mu.Lock()
	defer s.fc.mu.Unlock()
	for _, h := range s.fc.open {
		if h.refs != 0 {
			t.Fatalf("file %d still held %d times after every span was released", h.idx, h.refs)
		}
	}
}
