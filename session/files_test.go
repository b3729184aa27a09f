package session

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bitset"
)

// TestFilePrioritiesSkipAndWantAgain: a leecher skips the middle file of
// three: it completes with the other two byte-identical and the skipped one
// absent; wanted again, it downloads it too.
func TestFilePrioritiesSkipAndWantAgain(t *testing.T) {
	seedDir, leechDir := t.TempDir(), t.TempDir()
	files := []testFile{
		{path: []string{"a.bin"}, data: randomData(61, 300_001)},
		{path: []string{"sub", "b.bin"}, data: randomData(62, 200_003)},
		{path: []string{"c.bin"}, data: randomData(63, 250_007)},
	}
	mi, _ := makeTorrent(t, seedDir, "sel", 64<<10, "", files...)
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	leecher := startSession(t, Config{Torrent: mi, Dir: leechDir, Seed: true, Peers: []netip.AddrPort{loopback(seeder)},
		FilePriorities: []FilePriority{FileHigh, FileSkip, FileNormal}})
	awaitOrFail(t, leecher, 30*time.Second)
	for _, f := range []testFile{files[0], files[2]} {
		got, err := os.ReadFile(filepath.Join(append([]string{leechDir, "sel"}, f.path...)...))
		if err != nil || !bytes.Equal(got, f.data) {
			t.Fatalf("%v differs (%v)", f.path, err)
		}
	}
	if _, err := os.Stat(filepath.Join(leechDir, "sel", "sub", "b.bin")); !os.IsNotExist(err) {
		t.Fatalf("the skipped file exists (%v)", err)
	}
	if st := leecher.Stats(); st.PiecesHave == st.PiecesTotal || st.Left != 0 {
		t.Fatalf("stats after a partial completion: %d/%d pieces, %d left", st.PiecesHave, st.PiecesTotal, st.Left)
	}
	if err := leecher.SetFilePriorities([]FilePriority{FileNormal, FileNormal, FileNormal}); err != nil {
		t.Fatal(err)
	}
	awaitOrFail(t, leecher, 30*time.Second)
	samePayload(t, mi, seedDir, leechDir)
	if st := leecher.Stats(); st.PiecesHave != st.PiecesTotal {
		t.Fatalf("%d/%d pieces after wanting everything", st.PiecesHave, st.PiecesTotal)
	}
}

// TestResumeSparesTheCheck: a session given a resume of everything known
// reads no data at start (its files are even gone: it must not look), and
// its checkpoint after a sync reports the pieces as they are.
func TestResumeSparesTheCheck(t *testing.T) {
	dir := t.TempDir()
	mi, _ := makeTorrent(t, dir, "r.bin", 32<<10, "", testFile{data: randomData(71, 20*(32<<10))})
	n := mi.Info.NumPieces()
	known, have := bitset.New(n), bitset.New(n)
	known.SetAll()
	for i := 0; i < n; i += 2 {
		have.Set(i)
	}
	os.Remove(filepath.Join(dir, "r.bin")) // a check would now find nothing
	s := startSession(t, Config{Torrent: mi, Dir: dir, Seed: true, Resume: &Resume{Known: known, Have: have}})
	// Nothing to read: the session is past Checking as Start returns.
	if st := s.Stats(); st.Phase != Downloading || st.PiecesHave != have.Count() {
		t.Fatalf("as Start returns: %v with %d pieces, want Downloading with %d", st.Phase, st.PiecesHave, have.Count())
	}
	got, total, err := s.Checked(context.Background())
	if err != nil || got != have.Count() || total != n {
		t.Fatalf("checked %d of %d (%v), want the resume's %d", got, total, err, have.Count())
	}
	cp, err := s.Checkpoint()
	if err != nil || cp.Have.Count() != have.Count() || len(cp.Files) != 2 {
		t.Fatalf("checkpoint: %d pieces, %d file stats (%v)", cp.Have.Count(), len(cp.Files), err)
	}
	// Part of the resume unknown: those pieces are hashed (and missing).
	known.Clear(1)
	known.Clear(2)
	s.Stop(context.Background())
	s2 := startSession(t, Config{Torrent: mi, Dir: dir, Seed: true, Resume: &Resume{Known: known, Have: have}})
	if got, _, err := s2.Checked(context.Background()); err != nil || got != have.Count()-1 {
		t.Fatalf("checked %d (%v), want %d (piece 2 rechecked and missing)", got, err, have.Count()-1)
	}
	s2.Stop(context.Background())
	if cp, err := s2.Checkpoint(); err != nil || cp.Have.Count() != have.Count()-1 {
		t.Fatalf("final checkpoint: %d pieces (%v)", cp.Have.Count(), err)
	}
}
