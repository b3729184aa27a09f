package session

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestDownloadFromEffusionSeeder: one Effusion seeder, one leecher, over
// loopback, no tracker; the result is byte-for-byte the seeder's data.
func TestDownloadFromEffusionSeeder(t *testing.T) {
	seedDir, leechDir := t.TempDir(), t.TempDir()
	// 3 MiB + a ragged tail: the last piece and its last block are short.
	data := randomData(1, 3<<20+12345)
	mi, _ := makeTorrent(t, seedDir, "payload.bin", 256<<10, "", testFile{data: data})

	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second) // a complete seeder is complete after its check
	if st := seeder.Stats(); st.Phase != Seeding || st.PiecesHave != st.PiecesTotal {
		t.Fatalf("seeder: phase %v, %d/%d pieces", st.Phase, st.PiecesHave, st.PiecesTotal)
	}

	leecher := startSession(t, Config{Torrent: mi, Dir: leechDir, Peers: []netip.AddrPort{loopback(seeder)}})
	awaitOrFail(t, leecher, 30*time.Second)
	samePayload(t, mi, filepath.Join(seedDir), filepath.Join(leechDir))
	st := leecher.Stats()
	if st.PiecesHave != st.PiecesTotal || st.Left != 0 {
		t.Fatalf("leecher stats after completion: %+v", st)
	}
}

// TestResumeKeepsVerifiedPieces: a download stopped half-way keeps its
// verified pieces; started again over the same directory, the check finds
// them and only the rest is fetched.
func TestResumeKeepsVerifiedPieces(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	data := randomData(9, 3<<20)
	mi, _ := makeTorrent(t, seedDir, "payload.bin", 64<<10, "", testFile{data: data})
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)

	// A slow first run (1 MiB/s), stopped once some pieces are verified.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := Start(ctx, Config{Torrent: mi, Dir: dir, ListenAddr: "127.0.0.1:0", Logger: testLogger(t),
		Peers: []netip.AddrPort{loopback(seeder)}, DownloadRate: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for first.Stats().PiecesHave < 8 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	kept := first.Stats().PiecesHave
	if kept < 8 || kept == first.Stats().PiecesTotal {
		t.Fatalf("first run verified %d of %d pieces; want a partial download", kept, first.Stats().PiecesTotal)
	}

	second := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{loopback(seeder)}})
	have, total, err := second.Checked(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if have < kept {
		t.Fatalf("restart found %d verified pieces, the first run had %d", have, kept)
	}
	awaitOrFail(t, second, 30*time.Second)
	samePayload(t, mi, seedDir, dir)
	if got, most := second.Stats().Downloaded, int64(total-have)*(64<<10)+(64<<10); got > most {
		t.Fatalf("second run downloaded %d bytes; only %d were missing", got, most)
	}
}

// TestNoSelfOrDuplicateConnections: a session told its own address drops
// the connection to itself; two sessions dialing each other end up with
// one connection between them. Neither has data, so nothing else ends it.
func TestNoSelfOrDuplicateConnections(t *testing.T) {
	mi, _ := makeTorrent(t, t.TempDir(), "payload.bin", 64<<10, "", testFile{data: randomData(4, 1<<20)})
	a := startSession(t, Config{Torrent: mi, Dir: t.TempDir()})
	b := startSession(t, Config{Torrent: mi, Dir: t.TempDir()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []*Session{a, b} {
		if _, _, err := s.Checked(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a.AddPeers(loopback(a), loopback(b)) // ourselves, and b
	b.AddPeers(loopback(a))              // and a, from the other side
	settled := 0
	for settled < 25 && ctx.Err() == nil { // 0.5 s of one connection each
		na, nb := len(a.Stats().PeerStats), len(b.Stats().PeerStats)
		if na > 1 || nb > 1 {
			t.Fatalf("%d and %d connections, want one between the two", na, nb)
		}
		if na == 1 && nb == 1 {
			settled++
		}
		time.Sleep(20 * time.Millisecond)
	}
	if settled < 25 {
		t.Fatalf("never settled on one connection each: %+v / %+v", a.Stats().PeerStats, b.Stats().PeerStats)
	}
	for _, ps := range a.Stats().PeerStats {
		if ps.Addr == loopback(a) {
			t.Error("a is connected to itself")
		}
		// Two peers with nothing: nobody is interested, both choke.
		if ps.Pieces != 0 || ps.Interested || ps.PeerInterested || !ps.Choking || !ps.PeerChoking || !ps.Fast {
			t.Errorf("peer state %+v", ps)
		}
	}
}

// TestStopRightAfterStart: stopping during the start-up check ends cleanly
// (no goroutine left, Await and Checked report the stop).
func TestStopRightAfterStart(t *testing.T) {
	dir := t.TempDir()
	mi, _ := makeTorrent(t, dir, "payload.bin", 64<<10, "", testFile{data: randomData(2, 4<<20)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 10 {
		s, err := Start(ctx, Config{Torrent: mi, Dir: dir, ListenAddr: "127.0.0.1:0", Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Await(ctx); err != nil && !errors.Is(err, ErrStopped) {
			t.Fatalf("Await after Stop: %v", err)
		}
		if st := s.Stats(); st.Phase != Stopped && st.Phase != Seeding {
			t.Fatalf("phase after Stop: %v", st.Phase)
		}
	}
}

// TestFailedPhase: a storage error (the file's place is taken by a
// directory, so the first verified piece cannot be written) fails the
// session: Await returns the error, the phase is
// Failed.
func TestFailedPhase(t *testing.T) {
	seedDir := t.TempDir()
	mi, _ := makeTorrent(t, seedDir, "payload.bin", 64<<10, "", testFile{data: randomData(6, 1<<20)})
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "payload.bin", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{Torrent: mi, Dir: dir, ListenAddr: "127.0.0.1:0", Logger: testLogger(t),
		Peers: []netip.AddrPort{loopback(seeder)}})
	if err != nil {
		return // refusing at Start is fine too
	}
	defer s.Stop(ctx)
	err = s.Await(ctx)
	if err == nil || errors.Is(err, ErrStopped) {
		t.Fatalf("Await = %v, want the storage error", err)
	}
	if st := s.Stats(); st.Phase != Failed {
		t.Fatalf("phase %v, want failed", st.Phase)
	}
}

// TestDownloadMultiFileFromEffusionSeeder: files of odd sizes, so that
// many blocks cross a file boundary. The seeder sends blocks inside one
// file with sendfile and the others by reading them; the copy must be
// exact either way.
func TestDownloadMultiFileFromEffusionSeeder(t *testing.T) {
	seedDir, leechDir := t.TempDir(), t.TempDir()
	files := []testFile{
		{path: []string{"a.bin"}, data: randomData(2, 100_003)},
		{path: []string{"tiny"}, data: randomData(3, 5)},
		{path: []string{"sub", "b.bin"}, data: randomData(4, 70_000)},
		{path: []string{"sub", "c.bin"}, data: randomData(5, 1<<20+3)},
	}
	mi, _ := makeTorrent(t, seedDir, "multi", 32<<10, "", files...)
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	leecher := startSession(t, Config{Torrent: mi, Dir: leechDir, Peers: []netip.AddrPort{loopback(seeder)}})
	awaitOrFail(t, leecher, 30*time.Second)
	samePayload(t, mi, seedDir, leechDir)
	if st := seeder.Stats(); st.Uploaded != mi.Info.TotalLength() {
		t.Fatalf("seeder uploaded %d bytes, want %d", st.Uploaded, mi.Info.TotalLength())
	}
	byFile, byCopy := seeder.facts.sentByFile.Load(), seeder.facts.sentByCopy.Load()
	if runtime.GOOS == "linux" && (byFile == 0 || byCopy == 0) {
		t.Fatalf("blocks sent with sendfile: %d, by copying: %d; want both", byFile, byCopy)
	}
}
