package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// splitBlocks cuts data into blocks of size n (the last may be shorter).
func splitBlocks(data []byte, n int) [][]byte {
	var out [][]byte
	for len(data) > 0 {
		k := min(n, len(data))
		out = append(out, data[:k])
		data = data[k:]
	}
	return out
}

func TestWriteBlocksAtAcrossFilesAndPadding(t *testing.T) {
	fx := multiFixture(t)
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	// Uneven blocks so that block edges and file edges do not line up.
	for i := range fx.layout.Hashes {
		p := fx.piece(i)
		blocks := splitBlocks(p, 333)
		n, err := s.WriteBlocksAt(blocks, int64(i)*fx.layout.PieceLength)
		if err != nil || n != len(p) {
			t.Fatalf("piece %d: %d, %v", i, n, err)
		}
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("Check: %d %v", have.Count(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "t/.pad/200")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("padding file written: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "t/sub/deeper/c.bin"))
	if !bytes.Equal(got, fx.data[2000:4600]) {
		t.Fatal("c.bin differs")
	}
	if _, err := s.WriteBlocksAt([][]byte{make([]byte, 10)}, s.TotalLength()-5); !errors.Is(err, ErrRange) {
		t.Fatalf("past the end: %v", err)
	}
	ro := open(t, dir, fx, Options{ReadOnly: true})
	if _, err := ro.WriteBlocksAt([][]byte{{1}}, 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only: %v", err)
	}
}

// More buffers than IOV_MAX in one file: pwritev is split in batches.
func TestWriteBlocksAtManyIovecs(t *testing.T) {
	fx := newFixture(t, 64<<10, fspec{path: "f", length: 64 << 10})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	blocks := splitBlocks(fx.data, 50) // 1311 buffers
	if n, err := s.WriteBlocksAt(blocks, 0); err != nil || n != len(fx.data) {
		t.Fatal(n, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "f"))
	if !bytes.Equal(got, fx.data) {
		t.Fatal("content differs")
	}
}

// TestWritePieceBlocksAllocs: a verified piece of 64 blocks goes to disk
// without an allocation (the session writes one per piece received).
func TestWritePieceBlocksAllocs(t *testing.T) {
	fx := newFixture(t, 1<<20, fspec{path: "f", length: 2 << 20})
	s := open(t, t.TempDir(), fx, Options{})
	blocks := splitBlocks(fx.piece(1), 16<<10)
	if err := s.WritePieceBlocks(1, blocks); err != nil { // creates and sizes the file
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := s.WritePieceBlocks(1, blocks); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 && !raceEnabled { // the race detector allocates
		t.Fatalf("%v allocations per piece written", allocs)
	}
	got, _ := os.ReadFile(filepath.Join(s.root.Name(), "f"))
	if !bytes.Equal(got[1<<20:], fx.piece(1)) {
		t.Fatal("piece 1 differs on disk")
	}
	if err := s.WritePieceBlocks(1, blocks[1:]); !errors.Is(err, ErrRange) {
		t.Fatalf("short piece: %v", err)
	}
}
