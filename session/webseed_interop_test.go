package session

import (
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// TestInteropWebSeedAndLibtorrent: a libtorrent seeder (upload limited to
// 1.5 MiB/s) and a web seed throttled to 1 MiB/s serve one download
// together: both contribute bytes, and the result is byte-identical.
func TestInteropWebSeedAndLibtorrent(t *testing.T) {
	python, script := needLibtorrent(t)
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tb := makeTorrent(t, seedDir, "mixed.bin", 64<<10, "", testFile{data: randomData(61, 6<<20+4321)})
	tpath := filepath.Join(t.TempDir(), "mixed.torrent")
	if err := os.WriteFile(tpath, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LTSET", `{"upload_rate_limit": 1572864}`)
	port := testpeer.FreePort(t)
	seeder := testpeer.Start(t, seedDir, python, script, "seed", tpath, seedDir, strconv.Itoa(port))
	seeder.WaitLine(t, "READY", 30*time.Second)
	web := serveHTTP(t, throttle(http.FileServer(http.Dir(seedDir)), 1<<20))
	s := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{lp(port)},
		WebSeeds: []string{web.URL + "/mixed.bin"}})
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
	st := s.Stats()
	fromPeers := st.Downloaded - st.WebSeedDownloaded
	t.Logf("from the web seed %d bytes, from libtorrent %d (of %d)", st.WebSeedDownloaded, fromPeers, mi.Info.TotalLength())
	if st.WebSeedDownloaded < 256<<10 || fromPeers < 256<<10 {
		t.Fatalf("both sources should contribute: web seed %d bytes, peers %d", st.WebSeedDownloaded, fromPeers)
	}
}
