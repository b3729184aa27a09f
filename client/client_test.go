package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quiet() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fixture is a multi-file payload on disk and its torrent.
type fixture struct {
	mi    *metainfo.MetaInfo
	dir   string // holds the payload (the torrent's name inside)
	files map[string][]byte
}

func newFixture(t testing.TB, sizes ...int) fixture {
	t.Helper()
	fx := fixture{dir: t.TempDir(), files: map[string][]byte{}}
	root := filepath.Join(fx.dir, "payload")
	for i, n := range sizes {
		b := make([]byte, n)
		rand.Read(b)
		name := filepath.Join("d", string(rune('a'+i))+".bin")
		fx.files[name] = b
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, _, err := metainfo.Build(context.Background(), root, metainfo.BuildOptions{PieceLength: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	fx.mi = mi
	return fx
}

func newClient(t testing.TB, dataDir string) *Client {
	t.Helper()
	c, err := New(context.Background(), Config{DataDir: dataDir, ListenAddr: "127.0.0.1:0", Logger: quiet(),
		CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

// seeder is a client seeding fx.
func seeder(t testing.TB, fx fixture) *Client {
	t.Helper()
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	return c
}

func await(t testing.TB, tt *Torrent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tt.Await(ctx); err != nil {
		st := tt.Stats()
		t.Fatalf("await %s: %v (%v, %d/%d pieces)", tt.Name(), err, st.State, st.PiecesHave, st.PiecesTotal)
	}
}

func sameFiles(t testing.TB, fx fixture, dir string, skip ...string) {
	t.Helper()
	skipped := map[string]bool{}
	for _, s := range skip {
		skipped[s] = true
	}
	for name, want := range fx.files {
		got, err := os.ReadFile(filepath.Join(dir, "payload", name))
		if skipped[name] {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("skipped %s exists (%v)", name, err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs (%v)", name, err)
		}
	}
}

// TestDownloadRestartInstant: a torrent downloaded by a client is back
// after a restart, complete, without a piece hashed; added again it is
// ErrExists.
func TestDownloadRestartInstant(t *testing.T) {
	fx := newFixture(t, 300_001, 5, 200_003)
	sd := seeder(t, fx)
	data, dl := t.TempDir(), t.TempDir()
	c := newClient(t, data)
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl})
	if err != nil {
		t.Fatal(err)
	}
	tt.AddPeers(sd.Addr())
	await(t, tt)
	sameFiles(t, fx, dl)
	if again, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl}); !errors.Is(err, ErrExists) || again != tt {
		t.Fatalf("adding it again: %v", err)
	}
	if _, err := ReadStore(data); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("ReadStore while the client runs: %v, want ErrStoreInUse", err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, err := ReadStore(data)
	if err != nil || len(stored) != 1 {
		t.Fatalf("ReadStore: %d torrents, %v", len(stored), err)
	}
	if s := stored[0]; s.InfoHash != fx.mi.InfoHash || s.Info == nil || s.Have == nil || s.Have.Count() != fx.mi.Info.NumPieces() ||
		s.Dir != dl || s.Completed.IsZero() || len(s.Files) != len(fx.mi.Info.Files)+1 {
		t.Fatalf("ReadStore: %+v", s)
	}
	if _, err := ReadStore(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadStore of an empty directory: %v", err)
	}
	c2 := newClient(t, data)
	ts := c2.Torrents()
	if len(ts) != 1 || ts[0].InfoHash() != fx.mi.InfoHash {
		t.Fatalf("after restart: %d torrents", len(ts))
	}
	await(t, ts[0])
	st := ts[0].Stats()
	if st.State != Seeding || st.PiecesHave != st.PiecesTotal || st.Downloaded != fx.mi.Info.TotalLength() {
		t.Fatalf("after restart: %v, %d/%d pieces, downloaded %d", st.State, st.PiecesHave, st.PiecesTotal, st.Downloaded)
	}
	if n := ts[0].sessionStats().PiecesChecked; n != 0 {
		t.Fatalf("the restart hashed %d pieces", n)
	}
}

// TestChangedFileRechecked: a file changed while the client was down is
// hashed again; the pieces of the untouched files are not.
func TestChangedFileRechecked(t *testing.T) {
	fx := newFixture(t, 300_000, 300_000)
	data := t.TempDir()
	c := newClient(t, data)
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	c.Shutdown(context.Background())
	// Corrupt a byte of the second file (its mtime changes).
	p := filepath.Join(fx.dir, "payload", "d", "b.bin")
	b, _ := os.ReadFile(p)
	b[1000] ^= 0xff
	os.WriteFile(p, b, 0o644)
	c2 := newClient(t, data)
	t2 := c2.Torrents()[0]
	deadline := time.Now().Add(10 * time.Second)
	for t2.Stats().State == Checking && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	st, ss := t2.Stats(), t2.sessionStats()
	bPieces := (300_000 + 32<<10 - 1) / (32 << 10)
	if ss.PiecesChecked < bPieces-1 || ss.PiecesChecked > bPieces+1 {
		t.Fatalf("hashed %d pieces, want about the %d of the changed file", ss.PiecesChecked, bPieces)
	}
	if st.PiecesHave != st.PiecesTotal-1 {
		t.Fatalf("%d of %d pieces, want all but the corrupt one", st.PiecesHave, st.PiecesTotal)
	}
}

// TestFileSelection: skipped files are not created, wanted ones arrive;
// the choice survives a restart; wanting a file again downloads it.
func TestFileSelection(t *testing.T) {
	fx := newFixture(t, 200_000, 70_000, 200_000)
	sd := seeder(t, fx)
	data, dl := t.TempDir(), t.TempDir()
	c := newClient(t, data)
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl, Priorities: []Priority{High, Skip, Normal}})
	if err != nil {
		t.Fatal(err)
	}
	tt.AddPeers(sd.Addr())
	await(t, tt)
	sameFiles(t, fx, dl, filepath.Join("d", "b.bin"))
	files := tt.Files()
	if len(files) != 3 || files[1].Priority != Skip || files[0].Completed != files[0].Length || files[2].Completed != files[2].Length {
		t.Fatalf("files %+v", files)
	}
	c.Shutdown(context.Background())
	c2 := newClient(t, data)
	t2 := c2.Torrents()[0]
	await(t, t2)
	if f := t2.Files(); f[1].Priority != Skip {
		t.Fatalf("priorities after restart: %+v", f)
	}
	if err := t2.SetFilePriority(1, Normal); err != nil {
		t.Fatal(err)
	}
	t2.AddPeers(sd.Addr())
	await(t, t2)
	sameFiles(t, fx, dl)
}

// TestPauseResumeRemove: a paused torrent stays paused across a restart;
// resumed it completes; removed with its data, its files are gone.
func TestPauseResumeRemove(t *testing.T) {
	fx := newFixture(t, 150_000, 150_000)
	sd := seeder(t, fx)
	data, dl := t.TempDir(), t.TempDir()
	c := newClient(t, data)
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl, Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := tt.Stats(); st.State != Paused || st.Left != fx.mi.Info.TotalLength() {
		t.Fatalf("added paused: %v, left %d", st.State, st.Left)
	}
	c.Shutdown(context.Background())
	c2 := newClient(t, data)
	t2 := c2.Torrents()[0]
	if st := t2.Stats(); st.State != Paused {
		t.Fatalf("after restart: %v", st.State)
	}
	if err := t2.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	t2.AddPeers(sd.Addr())
	await(t, t2)
	sameFiles(t, fx, dl)
	if err := c2.Remove(context.Background(), fx.mi.InfoHash, DeleteData); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dl, "payload")); !os.IsNotExist(err) {
		t.Fatalf("data left after removal with DeleteData (%v)", err)
	}
	if err := t2.Await(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Await after removal: %v", err)
	}
	if len(c2.Torrents()) != 0 {
		t.Fatal("removed torrent still listed")
	}
	c2.Shutdown(context.Background())
	if c3 := newClient(t, data); len(c3.Torrents()) != 0 {
		t.Fatal("removed torrent back after a restart")
	}
}

// TestCorruptStore: an unreadable store names its file; ResetResume sets
// it aside and starts afresh, leaving the data alone.
func TestCorruptStore(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, storeFile)
	junk := make([]byte, 64<<10)
	rand.Read(junk)
	os.WriteFile(path, junk, 0o600)
	_, err := New(context.Background(), Config{DataDir: data, ListenAddr: "127.0.0.1:0", Logger: quiet()})
	var se *StoreError
	if !errors.As(err, &se) || se.Path != path {
		t.Fatalf("New over a corrupt store: %v", err)
	}
	c, err := New(context.Background(), Config{DataDir: data, ListenAddr: "127.0.0.1:0", Logger: quiet(), ResetResume: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	aside, _ := filepath.Glob(path + ".broken-*")
	if len(aside) != 1 {
		t.Fatalf("the broken store was not set aside: %v", aside)
	}
}

// TestDamagedRecordFallsBackToCheck: a torrent whose resume record is
// damaged is checked in full, and found complete.
func TestDamagedRecordFallsBackToCheck(t *testing.T) {
	fx := newFixture(t, 100_000)
	data := t.TempDir()
	c := newClient(t, data)
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	c.Shutdown(context.Background())
	db, err := bolt.Open(filepath.Join(data, storeFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTorrents).Bucket(fx.mi.InfoHash[:]).Put(keyResume, []byte("d4:havei1e"))
	})
	db.Close()
	c2 := newClient(t, data)
	t2 := c2.Torrents()[0]
	await(t, t2)
	if n, total := t2.sessionStats().PiecesChecked, fx.mi.Info.NumPieces(); n != total {
		t.Fatalf("hashed %d of %d pieces after a damaged record", n, total)
	}
}

// TestStoreInUse: a second client on the same data directory is refused.
func TestStoreInUse(t *testing.T) {
	data := t.TempDir()
	newClient(t, data)
	_, err := New(context.Background(), Config{DataDir: data, ListenAddr: "127.0.0.1:0", Logger: quiet()})
	if !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("second client on one data directory: %v", err)
	}
}

// TestOpenFilesCapped: five multi-file torrents downloading at once under a
// process-wide cap of three open files all complete, and the client never
// holds more than three open.
func TestOpenFilesCapped(t *testing.T) {
	sd := newClient(t, t.TempDir())
	c, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(),
		MaxOpenFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	var ts []*Torrent
	var fxs []fixture
	var dls []string
	for i := range 5 {
		fx := newFixture(t, 40_000+i, 50_001, 3, 70_000, 20_000, 90_000+i)
		st, err := sd.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
		if err != nil {
			t.Fatal(err)
		}
		await(t, st)
		dl := t.TempDir()
		tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl, Peers: []netip.AddrPort{sd.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		ts, fxs, dls = append(ts, tt), append(fxs, fx), append(dls, dl)
	}
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		p := 0
		for {
			select {
			case <-stop:
				peak <- p
				return
			default:
				p = max(p, c.env.OpenFiles())
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i, tt := range ts {
		await(t, tt)
		sameFiles(t, fxs[i], dls[i])
	}
	close(stop)
	if p := <-peak; p > 3 {
		t.Fatalf("%d files open at once under a cap of 3", p)
	}
}

// TestInflightBudgetConfig: Config.MaxInflightBlocks is the environment's
// fixed budget; without it the default is 768 blocks (12 MiB).
func TestInflightBudgetConfig(t *testing.T) {
	for _, c := range []struct{ set, want int }{{0, 768}, {2000, 2000}} {
		cl, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(), MaxInflightBlocks: c.set})
		if err != nil {
			t.Fatal(err)
		}
		if used, budget := cl.env.InflightBlocks(); used != 0 || budget != c.want {
			t.Errorf("MaxInflightBlocks %d: %d used of %d, want 0 of %d", c.set, used, budget, c.want)
		}
		cl.Close()
	}
}

// TestNoAutoStart: restored torrents are loaded but not started, and their
// records stay as they were (not paused); the one a command names is
// started by Add (ErrExists) and Resume, without a check.
func TestNoAutoStart(t *testing.T) {
	fx := newFixture(t, 100_000)
	data := t.TempDir()
	c := newClient(t, data)
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	c.Shutdown(context.Background())
	c2, err := New(context.Background(), Config{DataDir: data, ListenAddr: "127.0.0.1:0", Logger: quiet(), NoAutoStart: true})
	if err != nil {
		t.Fatal(err)
	}
	t2, ok := c2.Torrent(fx.mi.InfoHash)
	if !ok || t2.Stats().State != Paused {
		t.Fatalf("restored without auto-start: %v", ok)
	}
	again, err := c2.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if !errors.Is(err, ErrExists) || again != t2 {
		t.Fatalf("Add: %v", err)
	}
	if err := t2.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	await(t, t2)
	if n := t2.sessionStats().PiecesChecked; n != 0 {
		t.Fatalf("hashed %d pieces", n)
	}
	c2.Shutdown(context.Background())
	c3, err := New(context.Background(), Config{DataDir: data, ListenAddr: "127.0.0.1:0", Logger: quiet(), NoAutoStart: true})
	if err != nil {
		t.Fatal(err)
	}
	c3.Shutdown(context.Background())
	stored, err := ReadStore(data)
	if err != nil || len(stored) != 1 || stored[0].Paused || stored[0].Have == nil || !stored[0].Have.Complete() {
		t.Fatalf("after a run that never started it: %v %+v", err, stored)
	}
}

// TestSelectRecorded: what Spec.Select chooses is what Files reports and
// what a restart keeps, for a .torrent and for a magnet (chosen once its
// files are known).
func TestSelectRecorded(t *testing.T) {
	fx := newFixture(t, 100_000, 50_000)
	sd := seeder(t, fx)
	skipB := func(info *metainfo.Info) []Priority {
		out := make([]Priority, len(info.Files))
		for i, f := range info.Files {
			if f.Path[len(f.Path)-1] == "b.bin" {
				out[i] = Skip
			} else {
				out[i] = Normal
			}
		}
		return out
	}
	for _, magnet := range []bool{false, true} {
		data, dl := t.TempDir(), t.TempDir()
		c := newClient(t, data)
		spec := Spec{Torrent: fx.mi, Dir: dl, Select: skipB, Peers: []netip.AddrPort{sd.Addr()}}
		if magnet {
			spec.Torrent, spec.Magnet = nil, fmt.Sprintf("%x", fx.mi.InfoHash)
		}
		tt, err := c.Add(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		await(t, tt)
		sameFiles(t, fx, dl, filepath.Join("d", "b.bin"))
		if f := tt.Files(); len(f) != 2 || f[1].Priority != Skip || f[0].Priority != Normal {
			t.Fatalf("magnet %v: files %+v", magnet, f)
		}
		c.Shutdown(context.Background())
		c2 := newClient(t, data)
		if f := c2.Torrents()[0].Files(); f[1].Priority != Skip {
			t.Fatalf("magnet %v: after restart %+v", magnet, f)
		}
		c2.Shutdown(context.Background())
	}
}

// TestSetFilePrioritiesBatch: one call sets every file; a wrong count or
// an unknown priority is refused and changes nothing.
func TestSetFilePrioritiesBatch(t *testing.T) {
	fx := newFixture(t, 1000, 2000, 3000)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: t.TempDir(), Paused: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tt.SetFilePriorities([]Priority{Skip, High}); err == nil {
		t.Fatal("two priorities for three files accepted")
	}
	if err := tt.SetFilePriorities([]Priority{Skip, 99, Normal}); err == nil {
		t.Fatal("an unknown priority accepted")
	}
	if err := tt.SetFilePriorities([]Priority{Skip, High, Normal}); err != nil {
		t.Fatal(err)
	}
	f := tt.Files()
	if f[0].Priority != Skip || f[1].Priority != High || f[2].Priority != Normal {
		t.Fatalf("files %+v", f)
	}
}
