package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/effusion-bt/effusion/bitset"
)

// TestSkippedFileNotCreated: a small file between two wanted ones is
// skipped. Every piece touches a wanted file, so all are written; the
// skipped file's bytes go to the part file, the file itself never
// appears, and reads, uploads and the check see the right bytes. Wanted
// again, it gets them back from the part file.
func TestSkippedFileNotCreated(t *testing.T) {
	fx := newFixture(t, 64<<10, fspec{path: "t/a", length: 100_000}, fspec{path: "t/b", length: 30_000}, fspec{path: "t/c", length: 100_000})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{PartFile: ".t.parts"})
	if err := s.SetSkipped([]bool{false, true, false}); err != nil {
		t.Fatal(err)
	}
	for i := range fx.layout.Hashes { // both write paths
		var err error
		if i%2 == 0 {
			err = s.WritePiece(i, fx.piece(i))
		} else {
			var blocks [][]byte
			for p := fx.piece(i); len(p) > 0; p = p[min(len(p), 16<<10):] {
				blocks = append(blocks, p[:min(len(p), 16<<10)])
			}
			err = s.WritePieceBlocks(i, blocks)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "t", "b")); !os.IsNotExist(err) {
		t.Fatalf("the skipped file exists (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".t.parts")); err != nil {
		t.Fatalf("no part file: %v", err)
	}
	for i := range fx.layout.Hashes {
		buf := make([]byte, s.PieceLen(i))
		if err := s.ReadPiece(i, buf); err != nil || !bytes.Equal(buf, fx.piece(i)) {
			t.Fatalf("piece %d reads back wrong (%v)", i, err)
		}
		if _, ok, err := s.FileSpan(i, 0, int(s.PieceLen(i))); ok && err == nil {
			// A span may only be handed out inside one real file.
			off := int64(i) * s.pieceLen
			if off < 100_000+30_000 && off+s.PieceLen(i) > 100_000 {
				t.Fatalf("piece %d, in the part file, lent as a file span", i)
			}
		}
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("check: %d of %d pieces (%v)", have.Count(), have.Len(), err)
	}
	if err := s.SetSkipped([]bool{false, false, false}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "t", "b"))
	if err != nil || !bytes.Equal(got, fx.data[100_000:130_000]) {
		t.Fatalf("the file wanted again does not hold its bytes (%v)", err)
	}
	have, err = s.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("check after unskipping: %d of %d pieces (%v)", have.Count(), have.Len(), err)
	}
}

// TestSkippedExistingFileKeepsData: skipping a file that already exists
// changes nothing on disk; its pieces still read from it.
func TestSkippedExistingFileKeepsData(t *testing.T) {
	fx := newFixture(t, 32<<10, fspec{path: "t/a", length: 50_000}, fspec{path: "t/b", length: 50_000})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	writeAll(t, s, fx)
	if err := s.SetSkipped([]bool{false, true}); err != nil {
		t.Fatal(err)
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("check: %d of %d pieces (%v)", have.Count(), have.Len(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".t.parts")); !os.IsNotExist(err) {
		t.Fatalf("a part file appeared (%v)", err)
	}
}

// TestCheckPiecesSubset: only the pieces asked are read and reported.
func TestCheckPiecesSubset(t *testing.T) {
	fx := multiFixture(t)
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	writeAll(t, s, fx)
	n := len(fx.layout.Hashes)
	which := bitset.New(n)
	for i := 0; i < n; i += 3 {
		which.Set(i)
	}
	calls := 0
	have, err := s.CheckPieces(context.Background(), which, func(done, total int) {
		calls++
		if total != which.Count() {
			t.Errorf("progress total %d, want %d", total, which.Count())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if have.Has(i) != which.Has(i) {
			t.Fatalf("piece %d reported %v, asked %v", i, have.Has(i), which.Has(i))
		}
	}
	if calls != which.Count() {
		t.Fatalf("%d progress calls, want %d", calls, which.Count())
	}
}

// TestUnskipMovesInnerPieces: a piece inside a skipped file (written
// because a streaming reader read it) goes to the part file, and comes
// back into the file, with the straddling ones, when the file is wanted
// again; the bytes never written read as zeros there.
func TestUnskipMovesInnerPieces(t *testing.T) {
	fx := newFixture(t, 32<<10, fspec{path: "t/a", length: 50_000}, fspec{path: "t/b", length: 300_000}, fspec{path: "t/c", length: 50_000})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	if err := s.SetSkipped([]bool{false, true, false}); err != nil {
		t.Fatal(err)
	}
	// Piece 1 straddles a and b; pieces 5 and 6 lie inside b.
	written := []int{1, 5, 6}
	for _, i := range written {
		if err := s.WritePiece(i, fx.piece(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "t", "b")); !os.IsNotExist(err) {
		t.Fatalf("the skipped file exists (%v)", err)
	}
	if err := s.SetSkipped([]bool{false, false, false}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "t", "b"))
	if err != nil || len(got) != 300_000 {
		t.Fatalf("the file wanted again: %d bytes (%v)", len(got), err)
	}
	want := make([]byte, 300_000)
	for _, i := range written {
		lo, hi := int64(i)*32<<10, int64(i+1)*32<<10
		lo, hi = max(lo, 50_000), min(hi, 350_000)
		copy(want[lo-50_000:], fx.data[lo:hi])
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the file does not hold the bytes of the pieces written while it was skipped")
	}
	for _, i := range written {
		buf := make([]byte, s.PieceLen(i))
		if err := s.ReadPiece(i, buf); err != nil || !bytes.Equal(buf, fx.piece(i)) {
			t.Fatalf("piece %d reads back wrong (%v)", i, err)
		}
	}
}
