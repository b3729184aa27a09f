package storage

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStat: sizes and modification times of the files written, missing
// ones (never written, padding, the part file) as -1; a later write shows
// in the time.
func TestStat(t *testing.T) {
	fx := newFixture(t, 100, fspec{path: "d/a", length: 150}, fspec{path: "d/pad", length: 50, padding: true},
		fspec{path: "d/b", length: 100})
	dir := t.TempDir()
	s := open(t, dir, fx, Options{})
	if err := s.WritePiece(0, fx.piece(0)); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 4 || st[0].Size != 150 || st[0].ModTime.IsZero() || st[1].Size != -1 || st[2].Size != -1 || st[3].Size != -1 {
		t.Fatalf("Stat after one piece: %+v", st)
	}
	// Age the file, then write to it again: its time moves.
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "d", "a"), old, old)
	for _, i := range []int{1, 2} { // piece 1: the end of a and padding; 2: b
		if err := s.WritePiece(i, fx.piece(i)); err != nil {
			t.Fatal(err)
		}
	}
	st2, err := s.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if !st2[0].ModTime.After(old) || st2[2].Size != 100 {
		t.Fatalf("Stat after the second piece: %+v", st2)
	}
}
