package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
)

// Magnet links and peer exchange against real clients on loopback.

// magnetFor is a magnet link for fx with the given trackers and x.pe peers.
func magnetFor(fx fixture, trackers []string, peers ...netip.AddrPort) string {
	m := &metainfo.Magnet{InfoHash: fx.mi.InfoHash, HasV1: true, Trackers: trackers}
	for _, p := range peers {
		m.Peers = append(m.Peers, p.String())
	}
	return m.String()
}

// ltSeeder starts libtorrent seeding fx (announcing to tracker, if any) and
// returns its port.
func ltSeeder(t *testing.T, fx fixture, tracker string) (int, *testpeer.Proc) {
	t.Helper()
	tpath, _ := torrentFile(t, fx, tracker)
	python, script := testpeer.Libtorrent(t)
	port := testpeer.FreePort(t)
	lt := testpeer.Start(t, fx.dir, python, script, "seed", tpath, fx.dir, strconv.Itoa(port))
	lt.WaitLine(t, "READY", 30*time.Second)
	return port, lt
}

// magnetDownload adds a magnet to a fresh client and waits for the data.
func magnetDownload(t *testing.T, fx fixture, magnet string) *Torrent {
	t.Helper()
	c := newClient(t, t.TempDir())
	dl := t.TempDir()
	tt, err := c.Add(context.Background(), Spec{Magnet: magnet, Dir: dl})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := tt.Await(ctx); err != nil {
		st := tt.Stats()
		t.Fatalf("magnet download: %v (%v, metadata %d/%d, %d/%d pieces, %d peers)", err, st.State,
			st.MetadataHave, st.MetadataPieces, st.PiecesHave, st.PiecesTotal, st.Peers)
	}
	sameFiles(t, fx, dl)
	return tt
}

// TestInteropMagnetFromLibtorrent: Effusion fetches metadata and data from
// a libtorrent seeder named by the magnet's x.pe, and from one found
// through the magnet's tracker.
func TestInteropMagnetFromLibtorrent(t *testing.T) {
	t.Run("x.pe", func(t *testing.T) {
		fx := newFixture(t, 1<<20+7, 300_000)
		port, _ := ltSeeder(t, fx, "")
		magnetDownload(t, fx, magnetFor(fx, nil, lp(port)))
	})
	t.Run("tracker", func(t *testing.T) {
		fx := newFixture(t, 1<<20+9)
		url, _ := testpeer.StartOpentracker(t, fx.mi.InfoHash)
		ltSeeder(t, fx, url)
		magnetDownload(t, fx, magnetFor(fx, []string{url}))
	})
}

// TestInteropMagnetFromAria2: aria2 seeds (it ignores x.pe, but answers
// when we dial it); Effusion fetches metadata and data from it.
func TestInteropMagnetFromAria2(t *testing.T) {
	bin := testpeer.Require(t, "aria2c")
	fx := newFixture(t, 1<<20+11)
	tpath, _ := torrentFile(t, fx, "")
	port := testpeer.FreePort(t)
	args := append(testpeer.Aria2Args(port), "--seed-ratio=0.0", "--check-integrity=true", "--dir="+fx.dir, tpath)
	a := testpeer.Start(t, fx.dir, bin, args...)
	a.WaitPort(t, port, 30*time.Second)
	magnetDownload(t, fx, magnetFor(fx, nil, lp(port)))
}

// TestInteropMagnetFromQBittorrent: qBittorrent seeds; Effusion fetches
// metadata and data through x.pe.
func TestInteropMagnetFromQBittorrent(t *testing.T) {
	bin := testpeer.Require(t, "qbittorrent-nox")
	fx := newFixture(t, 1<<20+13)
	tpath, _ := torrentFile(t, fx, "")
	port, webui := testpeer.FreePort(t), testpeer.FreePort(t)
	profile := t.TempDir()
	writeQBConfig(t, profile, fx.dir, port, webui)
	testpeer.Start(t, fx.dir, bin, "--profile="+profile, "--webui-port="+strconv.Itoa(webui),
		"--torrenting-port="+strconv.Itoa(port), "--save-path="+fx.dir, "--skip-dialog=true", tpath)
	waitQBSeeding(t, webui)
	magnetDownload(t, fx, magnetFor(fx, nil, lp(port)))
}

// writeQBConfig writes a headless, loopback-only qBittorrent profile.
func writeQBConfig(t *testing.T, profile, save string, port, webui int) {
	t.Helper()
	dir := filepath.Join(profile, "qBittorrent", "config")
	os.MkdirAll(dir, 0o755)
	conf := fmt.Sprintf(`[LegalNotice]
Accepted=true

[BitTorrent]
Session\DHTEnabled=false
Session\LSDEnabled=false
Session\PeXEnabled=false
Session\Port=%[1]d
Session\Interface=lo
Session\InterfaceName=lo
Session\InterfaceAddress=127.0.0.1
Session\BTProtocol=TCP
Session\Encryption=0
Session\QueueingSystemEnabled=false
Session\MultiConnectionsPerIp=true
Session\DefaultSavePath=%[2]s
Session\TempPathEnabled=false
Session\AddExtensionToIncompleteFiles=false

[Network]
PortForwardingEnabled=false

[Preferences]
Connection\UPnP=false
Connection\PortRangeMin=%[1]d
Downloads\SavePath=%[2]s
WebUI\Enabled=true
WebUI\Address=127.0.0.1
WebUI\Port=%[3]d
WebUI\LocalHostAuth=false
WebUI\CSRFProtection=false
WebUI\HostHeaderValidation=false
`, port, save, webui)
	if err := os.WriteFile(filepath.Join(dir, "qBittorrent.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitQBSeeding polls qBittorrent's Web API until its torrent seeds.
func waitQBSeeding(t *testing.T, webui int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	url := fmt.Sprintf("http://127.0.0.1:%d/api/v2/torrents/info", webui)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ts []struct{ State string }
			if json.Unmarshal(b, &ts) == nil && len(ts) == 1 && strings.HasSuffix(ts[0].State, "UP") {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("qBittorrent never seeded")
}

// TestInteropLibtorrentFetchesOurMetadata: libtorrent downloads from a
// magnet whose x.pe names our seeder: metadata and data from us.
func TestInteropLibtorrentFetchesOurMetadata(t *testing.T) {
	fx := newFixture(t, 1<<20+17, 5)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	python, script := testpeer.Libtorrent(t)
	dl := t.TempDir()
	lt := testpeer.Start(t, dl, python, script, "magnet", magnetFor(fx, nil, lp(int(c.Addr().Port()))), dl,
		strconv.Itoa(testpeer.FreePort(t)), "--max-seconds", "60")
	lt.Wait(t, 70*time.Second)
	sameFiles(t, fx, dl)
	if !strings.Contains(lt.Output(), "METADATA") {
		t.Fatalf("libtorrent never reported the metadata:\n%s", lt.Output())
	}
}

// TestInteropAria2FetchesOurMetadata: aria2 (which ignores x.pe) fetches
// the metadata from our seeder found through a tracker, and writes the
// .torrent.
func TestInteropAria2FetchesOurMetadata(t *testing.T) {
	bin := testpeer.Require(t, "aria2c")
	fx := newFixture(t, 700_000)
	url, _ := testpeer.StartOpentracker(t, fx.mi.InfoHash)
	_, mi := torrentFile(t, fx, url)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	dl := t.TempDir()
	args := append(testpeer.Aria2Args(testpeer.FreePort(t)), "--bt-tracker-interval=1", "--bt-metadata-only=true",
		"--bt-save-metadata=true", "--bt-stop-timeout=30", "--dir="+dl, magnetFor(fx, []string{url}))
	a := testpeer.Start(t, dl, bin, args...)
	a.Wait(t, 60*time.Second)
	got, err := metainfo.Load(filepath.Join(dl, fmt.Sprintf("%x.torrent", fx.mi.InfoHash)))
	if err != nil || got.InfoHash != fx.mi.InfoHash {
		t.Fatalf("aria2's saved metadata: %v\n%s", err, a.Output())
	}
}

// TestInteropPEX: an Effusion leecher knows only a middle peer, which has
// and wants nothing but is connected to a libtorrent seeder; the middle
// peer's PEX names the seeder, and the leecher completes from it. The
// middle peer is libtorrent, then Effusion.
func TestInteropPEX(t *testing.T) {
	fx := newFixture(t, 2<<20+3)
	// The middle peer below wants nothing, so it announces upload-only; both
	// libtorrents must keep that "redundant" connection open.
	t.Setenv("LTSET", `{"close_redundant_connections": false}`)
	seedPort, _ := ltSeeder(t, fx, "")
	tpath, _ := torrentFile(t, fx, "")
	leech := func(t *testing.T, middle netip.AddrPort) {
		tt := magnetDownloadFrom(t, fx, middle)
		for _, ps := range tt.Stats().PeerStats {
			if ps.Addr == middle && ps.Downloaded > 64<<10 {
				t.Errorf("the middle peer sent %d bytes: the test proves nothing", ps.Downloaded)
			}
		}
	}
	t.Run("libtorrent middle", func(t *testing.T) {
		// Every file skipped: it wants nothing, so it has nothing; it keeps
		// its connection to the seeder although it needs nothing from it.
		python, script := testpeer.Libtorrent(t)
		port := testpeer.FreePort(t)
		mid := testpeer.Start(t, t.TempDir(), python, script, "middle", tpath, t.TempDir(), strconv.Itoa(port),
			"--peer", lp(seedPort).String())
		mid.WaitLine(t, "READY", 30*time.Second)
		leech(t, lp(port))
	})
	t.Run("effusion middle", func(t *testing.T) {
		c := newClient(t, t.TempDir())
		tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: t.TempDir(), Priorities: []Priority{Skip},
			Peers: []netip.AddrPort{lp(seedPort)}})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for tt.Stats().Peers == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		leech(t, lp(int(c.Addr().Port())))
	})
}

// magnetDownloadFrom downloads fx through a .torrent-less magnet whose only
// peer is first.
func magnetDownloadFrom(t *testing.T, fx fixture, first netip.AddrPort) *Torrent {
	t.Helper()
	c := newClient(t, t.TempDir())
	dl := t.TempDir()
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl, Peers: []netip.AddrPort{first}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := tt.Await(ctx); err != nil {
		t.Fatalf("download through PEX: %v (%+v)", err, tt.Stats().PeerStats)
	}
	sameFiles(t, fx, dl)
	return tt
}
