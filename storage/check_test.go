package storage

import (
	"context"
	"crypto/sha1"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckMixedRuns: Check hashes runs of pieces together; pieces that
// are good, corrupt, missing (a deleted file) and the short last piece
// must each come out as a one-by-one check says, whatever the workers.
func TestCheckMixedRuns(t *testing.T) {
	const pl = 4096
	fx := newFixture(t, pl,
		fspec{path: "a", length: 10*pl + 123},
		fspec{path: "b", length: 5 * pl},
		fspec{path: "c", length: 7*pl + 999})
	for _, workers := range []int{1, 2, 3} {
		dir := t.TempDir()
		s := open(t, dir, fx, Options{Workers: workers})
		writeAll(t, s, fx)
		// Corrupt one byte in pieces 2, 7 (in a), 17 and the last (in c).
		disk := append([]byte(nil), fx.data...)
		for _, off := range []int{2*pl + 5, 7*pl + pl - 1, 17*pl + 100, len(fx.data) - 1} {
			disk[off] ^= 0xff
		}
		aLen, bLen := 10*pl+123, 5*pl
		if err := os.WriteFile(filepath.Join(dir, "a"), disk[:aLen], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "c"), disk[aLen+bLen:], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, "b")); err != nil {
			t.Fatal(err)
		}
		have, err := s.Check(context.Background(), nil)
		if err != nil {
			t.Fatalf("workers %d: Check: %v", workers, err)
		}
		good := 0
		for i := range fx.layout.Hashes {
			start, end := i*pl, min((i+1)*pl, len(disk))
			touchesB := end > aLen && start < aLen+bLen
			want := !touchesB && sha1.Sum(disk[start:end]) == fx.layout.Hashes[i]
			if have.Has(i) != want {
				t.Errorf("workers %d: piece %d: have %v, want %v", workers, i, have.Has(i), want)
			}
			if want {
				good++
			}
		}
		if n := len(fx.layout.Hashes); good != n-4-6 {
			t.Fatalf("fixture: %d good pieces of %d, want %d", good, n, n-10)
		}
	}
}
