package session

import (
	"net/netip"
	"path/filepath"
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
