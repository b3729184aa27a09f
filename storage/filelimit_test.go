package storage

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestFileLimitShared: four storages of 12 files each, read and written by
// eight goroutines at once, never hold more than the shared limit of
// files open together, although each alone may hold 3.
func TestFileLimitShared(t *testing.T) {
	lim := NewFileLimit(2)
	var stores []*Storage
	var fxs []fixture
	for k := range 4 {
		var specs []fspec
		for i := range 12 {
			specs = append(specs, fspec{path: fmt.Sprintf("t%d/f%c", k, 'a'+i), length: 700 + k})
		}
		fx := newFixture(t, 1000, specs...)
		fxs = append(fxs, fx)
		stores = append(stores, open(t, t.TempDir(), fx, Options{MaxOpenFiles: 3, Files: lim}))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, fx := stores[w%4], fxs[w%4]
			for i := w / 4; i < s.NumPieces(); i += 2 {
				if err := s.WritePiece(i, fx.piece(i)); err != nil {
					t.Error(err)
				}
				buf := make([]byte, s.PieceLen(i))
				if err := s.ReadPiece(i, buf); err != nil || !bytes.Equal(buf, fx.piece(i)) {
					t.Errorf("read back %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	for k, s := range stores {
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		for i := range s.NumPieces() {
			buf := make([]byte, s.PieceLen(i))
			if err := s.ReadPiece(i, buf); err != nil || !bytes.Equal(buf, fxs[k].piece(i)) {
				t.Fatalf("storage %d piece %d: %v", k, i, err)
			}
		}
	}
	lim.mu.Lock()
	peak := lim.peak
	lim.mu.Unlock()
	if peak > 2 {
		t.Fatalf("peak %d files open under a limit of 2", peak)
	}
	for _, s := range stores {
		s.Close()
	}
	if n := lim.Open(); n != 0 {
		t.Fatalf("%d files counted open after every storage closed", n)
	}
}

// TestFileLimitWaitsForRelease: with a limit of one file, a storage whose
// file is in use (a Span being sent) makes another storage wait, not fail
// and not close it; the release lets the other go on.
func TestFileLimitWaitsForRelease(t *testing.T) {
	lim := NewFileLimit(1)
	fx := newFixture(t, 100, fspec{path: "a", length: 300})
	a := open(t, t.TempDir(), fx, Options{Files: lim})
	b := open(t, t.TempDir(), fx, Options{Files: lim})
	writeAll(t, a, fx)
	writeAll(t, b, fx)
	sp, ok, err := a.FileSpan(0, 0, 100)
	if err != nil || !ok {
		t.Fatalf("FileSpan: %v %v", ok, err)
	}
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 100)
		done <- b.ReadPiece(1, buf)
	}()
	select {
	case err := <-done:
		t.Fatalf("b read while a's file was in use under a limit of 1: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	sp.Release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b still waits after a released its file")
	}
}
