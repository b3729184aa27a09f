package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// alignedBlocks copies data into 16 KiB blocks of their own (as the
// session's block pool allocates them: aligned), the last one shorter.
func alignedBlocks(data []byte) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		b := new([16 << 10]byte)
		k := copy(b[:], data)
		out = append(out, b[:k])
		data = data[k:]
	}
	return out
}

// TestDirectWrites: aligned pieces go through the O_DIRECT handle where the
// file system takes it, the unaligned last piece through the page cache,
// and both read back exactly (by ReadAt, Check and the file itself);
// BufferedWrites never opens a direct handle.
func TestDirectWrites(t *testing.T) {
	const plen = 64 << 10
	fx := newFixture(t, plen, fspec{path: "f", length: 5*plen + 1000})
	for _, buffered := range []bool{false, true} {
		dir := t.TempDir()
		s := open(t, dir, fx, Options{BufferedWrites: buffered})
		for i := range fx.layout.Hashes {
			if err := s.WritePieceBlocks(i, alignedBlocks(fx.piece(i))); err != nil {
				t.Fatalf("buffered %v: piece %d: %v", buffered, i, err)
			}
		}
		h, err := s.fc.acquire(0, false)
		if err != nil {
			t.Fatal(err)
		}
		usedDirect, refused := h.d != nil, h.noDirect
		s.fc.release(h, false)
		switch {
		case buffered && usedDirect:
			t.Fatal("BufferedWrites opened an O_DIRECT handle")
		case !buffered && directFlag != 0 && !usedDirect && !refused:
			t.Fatal("aligned pieces were not written with O_DIRECT")
		case !buffered && refused:
			t.Logf("this file system refuses O_DIRECT: buffered writes")
		}
		got := make([]byte, len(fx.data))
		if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, fx.data) {
			t.Fatalf("buffered %v: read back differs (%v)", buffered, err)
		}
		have, err := s.Check(context.Background(), nil)
		if err != nil || !have.Complete() {
			t.Fatalf("buffered %v: Check %d, %v", buffered, have.Count(), err)
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		onDisk, _ := os.ReadFile(filepath.Join(dir, "f"))
		if !bytes.Equal(onDisk, fx.data) {
			t.Fatalf("buffered %v: the file differs", buffered)
		}
	}
}

// TestAlignedForDirect: offsets, lengths and addresses must all be
// multiples of 4096.
func TestAlignedForDirect(t *testing.T) {
	if directFlag == 0 {
		t.Skip("no O_DIRECT here")
	}
	b := new([16 << 10]byte)
	if !alignedForDirect([][]byte{b[:], b[:4096]}, 1<<20) {
		t.Fatal("aligned write refused")
	}
	for name, c := range map[string]struct {
		iovs [][]byte
		off  int64
	}{
		"offset":  {[][]byte{b[:]}, 512},
		"length":  {[][]byte{b[:1000]}, 0},
		"address": {[][]byte{b[1:4097]}, 0},
		"empty":   {nil, 0},
	} {
		if alignedForDirect(c.iovs, c.off) {
			t.Errorf("%s: accepted", name)
		}
	}
}
