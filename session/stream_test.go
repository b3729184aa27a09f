package session

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"
)

// readAll reads [off, end) of the torrent through ReadVerified.
func readAll(ctx context.Context, s *Session, off, end int64) ([]byte, error) {
	var out []byte
	buf := make([]byte, 50_000) // not a multiple of anything
	for off < end {
		n, err := s.ReadVerified(ctx, buf[:min(int64(len(buf)), end-off)], off)
		if err != nil {
			return out, err
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
	return out, nil
}

// TestReadVerifiedWhileDownloading: a reader with a window in the middle
// of a torrent gets the exact bytes while the session downloads, and
// reads at the end return io.EOF.
func TestReadVerifiedWhileDownloading(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	a, b := randomData(91, 600_001), randomData(92, 400_003)
	mi, _ := makeTorrent(t, seedDir, "st", 32<<10, "",
		testFile{path: []string{"a.bin"}, data: a}, testFile{path: []string{"b.bin"}, data: b})
	all := append(append([]byte(nil), a...), b...)
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir, Seed: true, Peers: []netip.AddrPort{loopback(seeder)}})
	id := s.NewReaderID()
	if id2 := s.NewReaderID(); id2 == id {
		t.Fatal("NewReaderID repeated an id")
	}
	off := int64(550_000)
	if err := s.SetReader(id, Window{Pos: off, End: int64(len(all)), Rate: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := readAll(ctx, s, off, int64(len(all)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, all[off:]) {
		t.Fatal("bytes read differ from the payload")
	}
	if n, err := s.ReadVerified(ctx, make([]byte, 10), int64(len(all))); n != 0 || err != io.EOF {
		t.Fatalf("read at the end: %d, %v", n, err)
	}
	s.RemoveReader(id)
	awaitOrFail(t, s, 20*time.Second)
}

// TestReadVerifiedWaitsAndStops: without peers a read waits; ctx ends it
// with ErrNotVerified, and the session's stop with ErrStopped.
func TestReadVerifiedWaitsAndStops(t *testing.T) {
	dir := t.TempDir()
	mi, _ := makeTorrent(t, t.TempDir(), "w.bin", 32<<10, "", testFile{data: randomData(93, 100_000)})
	s := startSession(t, Config{Torrent: mi, Dir: dir})
	if err := s.SetReader(s.NewReaderID(), Window{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.ReadVerified(ctx, make([]byte, 10), 0); !errors.Is(err, ErrNotVerified) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read without peers: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.ReadVerified(context.Background(), make([]byte, 10), 40_000)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopped) {
			t.Fatalf("read across the stop: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read still blocked after the stop")
	}
	if err := s.SetReader(1, Window{}); !errors.Is(err, ErrStopped) {
		t.Fatalf("SetReader after the stop: %v", err)
	}
}

// TestReadVerifiedMagnet: a reader of a magnet's session waits for the
// metadata, then for the data; its window, set before the core existed,
// is applied once it does.
func TestReadVerifiedMagnet(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	data := randomData(94, 500_000)
	mi, _ := makeTorrent(t, seedDir, "m.bin", 32<<10, "", testFile{data: data})
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	s := startSession(t, Config{Magnet: magnetOf(t, mi), Dir: dir, Seed: true, Peers: []netip.AddrPort{loopback(seeder)}})
	if err := s.SetReader(s.NewReaderID(), Window{Pos: 300_000}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := readAll(ctx, s, 300_000, 500_000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[300_000:]) {
		t.Fatal("bytes read differ from the payload")
	}
}

// TestReadVerifiedAfterCheck: a complete torrent's pieces verified by the
// start-up check wake a reader waiting since before it.
func TestReadVerifiedAfterCheck(t *testing.T) {
	seedDir := t.TempDir()
	data := randomData(95, 300_000)
	mi, _ := makeTorrent(t, seedDir, "c.bin", 32<<10, "", testFile{data: data})
	s := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := readAll(ctx, s, 0, int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the check: %v", err)
	}
}
