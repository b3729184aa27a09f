package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/tracker/server"
)

// startTracker runs an in-process HTTP tracker on loopback for the test.
func startTracker(t testing.TB) *server.Server {
	t.Helper()
	tr, err := server.Start(context.Background(), server.Config{HTTPAddr: "127.0.0.1:0", Interval: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// startLibtorrentSeeder seeds fx with libtorrent; it finds the daemon
// through fx's tracker.
func startLibtorrentSeeder(t testing.TB, fx fixture) {
	t.Helper()
	py := testpeer.Python(t)
	p := testpeer.Start(t, "", py, filepath.Join("testdata", "lt_seed.py"), fx.path, fx.dir)
	p.WaitLine(t, "PORT ", 30*time.Second)
}

// TestDownloadThroughDaemonAndRestart: a torrent added over the RPC is
// downloaded from a libtorrent seeder on loopback, byte for byte; after a
// restart of the daemon it is back, complete, without a piece hashed.
func TestDownloadThroughDaemonAndRestart(t *testing.T) {
	tr := startTracker(t)
	fx := newFixture(t, 64<<10, []string{tr.AnnounceURL()}, 3<<20+777)
	startLibtorrentSeeder(t, fx)
	h := newHarness(t)
	a := h.ok("torrent-add", map[string]any{"metainfo": fx.b64()})
	id := num(a["torrent-added"].(map[string]any)["id"])
	waitFor(t, 60*time.Second, "the download", func() bool {
		tt := h.torrents(map[string]any{"ids": id, "fields": []string{"percentDone", "status", "leftUntilDone"}})[0]
		return num(tt["leftUntilDone"]) == 0 && num(tt["status"]) == trSeed
	})
	want, _ := os.ReadFile(filepath.Join(fx.dir, "payload.bin"))
	got, err := os.ReadFile(filepath.Join(h.dlDir, "payload.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("downloaded file differs (%v)", err)
	}
	tt := h.torrents(map[string]any{"ids": id, "fields": []string{"downloadedEver", "peersConnected", "haveValid", "doneDate"}})[0]
	if num(tt["downloadedEver"]) < int64(len(want)) || num(tt["haveValid"]) != int64(len(want)) || num(tt["doneDate"]) == 0 {
		t.Fatalf("after the download: %v", tt)
	}

	h.restart()
	ts := h.torrents(map[string]any{"fields": []string{"id", "hashString", "leftUntilDone", "status", "downloadDir"}})
	if len(ts) != 1 || ts[0]["hashString"] != fx.mi.InfoHashHex() || num(ts[0]["leftUntilDone"]) != 0 || ts[0]["downloadDir"] != h.dlDir {
		t.Fatalf("after the restart: %v", ts)
	}
	e := h.d.reg.byIDs(1)
	waitFor(t, 10*time.Second, "seeding after the restart", func() bool { return e.t.Stats().State == client.Seeding })
	if n := e.t.PiecesChecked(); n != 0 {
		t.Fatalf("the restart hashed %d pieces", n)
	}
}
