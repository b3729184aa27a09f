package session

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// magnetOf is a bare info-hash magnet for mi.
func magnetOf(t testing.TB, mi *metainfo.MetaInfo) *metainfo.Magnet {
	t.Helper()
	m, err := metainfo.ParseMagnetOrHash(fmt.Sprintf("%x", mi.InfoHash))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMagnetFromEffusionSeeder: a session started from a bare info-hash
// fetches the metadata from a seeder, then the data, from the same
// connection; the info it got is the torrent's.
func TestMagnetFromEffusionSeeder(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	files := []testFile{
		{path: []string{"a.bin"}, data: randomData(81, 700_001)},
		{path: []string{"b", "c.bin"}, data: randomData(82, 300_003)},
	}
	mi, _ := makeTorrent(t, seedDir, "mag", 32<<10, "", files...)
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	leecher := startSession(t, Config{Magnet: magnetOf(t, mi), Dir: dir, Peers: []netip.AddrPort{loopback(seeder)}})
	if st := leecher.Stats(); st.Phase != Metadata {
		t.Fatalf("a magnet's session starts in %v", st.Phase)
	}
	awaitOrFail(t, leecher, 30*time.Second)
	samePayload(t, mi, seedDir, dir)
	got := leecher.MetaInfo()
	if got == nil || got.InfoHash != mi.InfoHash || string(got.InfoBytes) != string(mi.InfoBytes) {
		t.Fatal("the fetched metainfo is not the torrent's")
	}
	select {
	case <-leecher.InfoReady():
	default:
		t.Fatal("InfoReady not closed")
	}
}

// TestMetadataOnly: MetadataOnly stops once the metadata is in, and
// fetches no data.
func TestMetadataOnly(t *testing.T) {
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, _ := makeTorrent(t, seedDir, "m.bin", 32<<10, "", testFile{data: randomData(83, 500_000)})
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	s := startSession(t, Config{Magnet: magnetOf(t, mi), Dir: dir, MetadataOnly: true, Peers: []netip.AddrPort{loopback(seeder)}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatal("MetadataOnly session did not stop")
	}
	if s.MetaInfo() == nil || s.MetaInfo().InfoHash != mi.InfoHash {
		t.Fatal("no metadata")
	}
	if st := s.Stats(); st.Downloaded > 64<<10 {
		t.Fatalf("downloaded %d bytes of data", st.Downloaded)
	}
}

// TestPEXFindsTheSeeder: a leecher knows only a middle peer that has and
// wants nothing; the middle peer's PEX names the seeder, and the leecher
// completes from it.
func TestPEXFindsTheSeeder(t *testing.T) {
	seedDir := t.TempDir()
	mi, _ := makeTorrent(t, seedDir, "p.bin", 32<<10, "", testFile{data: randomData(84, 800_000)})
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	middle := startSession(t, Config{Torrent: mi, Dir: t.TempDir(), Seed: true, FilePriorities: []FilePriority{FileSkip},
		Peers: []netip.AddrPort{loopback(seeder)}})
	deadline := time.Now().Add(10 * time.Second)
	for len(middle.Stats().PeerStats) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	dir := t.TempDir()
	leecher := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{loopback(middle)}})
	awaitOrFail(t, leecher, 30*time.Second)
	samePayload(t, mi, seedDir, dir)
	if st := middle.Stats(); st.Uploaded != 0 {
		t.Fatalf("the middle peer uploaded %d bytes: the test proves nothing", st.Uploaded)
	}
}
