package client

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/transport"
)

// uTP against libtorrent with TCP off both ways, whole downloads on
// loopback, byte-verified; the transport asserted on both sides (our
// Stats, libtorrent's uTP peer flag 1<<17 in its PEER lines).

// ltUTPOnly is libtorrent with uTP only.
const ltUTPOnly = `{"enable_outgoing_tcp": false, "enable_incoming_tcp": false, "enable_outgoing_utp": true, "enable_incoming_utp": true`

// utpClient is a client dialling with mode m, downloading at most rate
// bytes a second (0: unlimited) so that its peers stay in Stats a while.
func utpClient(t *testing.T, m transport.Mode, rate int) *Client {
	t.Helper()
	c, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(),
		Transport: m, DownloadRate: rate, NoDHT: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

// awaitTransports waits for tt to complete and returns the transports its
// peers were seen on meanwhile.
func awaitTransports(t *testing.T, tt *Torrent, within time.Duration) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tt.Await(ctx) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				st := tt.Stats()
				t.Fatalf("await: %v (%v, %d/%d pieces, %d peers)", err, st.State, st.PiecesHave, st.PiecesTotal, st.Peers)
			}
			return seen
		case <-tick.C:
			for _, ps := range tt.Stats().PeerStats {
				seen[ps.Transport] = true
			}
		}
	}
}

// TestInteropUTPFromLibtorrent: libtorrent seeds over uTP only; Effusion
// downloads from it, in both and utp modes, over uTP.
func TestInteropUTPFromLibtorrent(t *testing.T) {
	fx := newFixture(t, 6<<20+77)
	tpath, mi := torrentFile(t, fx, "")
	t.Setenv("LTSET", ltUTPOnly+"}")
	python, script := testpeer.Libtorrent(t)
	port := testpeer.FreePort(t)
	lt := testpeer.Start(t, fx.dir, python, script, "seed", tpath, fx.dir, strconv.Itoa(port))
	lt.WaitLine(t, "READY", 30*time.Second)
	for _, m := range []transport.Mode{transport.Both, transport.UTP} {
		t.Run(m.String(), func(t *testing.T) {
			c := utpClient(t, m, 4<<20)
			dl := t.TempDir()
			tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: dl, Peers: []netip.AddrPort{lp(port)}})
			if err != nil {
				t.Fatal(err)
			}
			if seen := awaitTransports(t, tt, 90*time.Second); !seen[transport.NameUTP] || seen[transport.NameTCP] {
				t.Errorf("our Stats saw transports %v, want utp only", seen)
			}
			sameFiles(t, fx, dl)
			want := "PEER 127.0.0.1:" + strconv.Itoa(int(c.Addr().Port())) + " rc4=0 utp=1"
			if !strings.Contains(lt.Output(), want) {
				t.Errorf("libtorrent does not report %q", want)
			}
		})
	}
}

// TestInteropUTPToLibtorrent: Effusion seeds, dialling uTP only;
// libtorrent with uTP only downloads from it.
func TestInteropUTPToLibtorrent(t *testing.T) {
	fx := newFixture(t, 6<<20+5)
	tpath, mi := torrentFile(t, fx, "")
	c := utpClient(t, transport.UTP, 0)
	tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	// libtorrent's download limited so that the peer stays in our Stats.
	t.Setenv("LTSET", ltUTPOnly+`, "download_rate_limit": 4000000}`)
	python, script := testpeer.Libtorrent(t)
	dl := t.TempDir()
	lt := testpeer.Start(t, dl, python, script, "leech", tpath, dl, strconv.Itoa(testpeer.FreePort(t)),
		"--peer", lp(int(c.Addr().Port())).String(), "--max-seconds", "90")
	seen := map[string]bool{}
	for done := false; !done; {
		select {
		case <-lt.Done():
			done = true
		case <-time.After(50 * time.Millisecond):
			for _, ps := range tt.Stats().PeerStats {
				seen[ps.Transport] = true
			}
		}
	}
	lt.Wait(t, time.Second)
	sameFiles(t, fx, dl)
	if !seen[transport.NameUTP] || seen[transport.NameTCP] {
		t.Errorf("our Stats saw transports %v, want utp only", seen)
	}
	if want := "PEER 127.0.0.1:" + strconv.Itoa(int(c.Addr().Port())) + " rc4=0 utp=1"; !strings.Contains(lt.Output(), want) {
		t.Errorf("libtorrent does not report %q:\n%s", want, lt.Output())
	}
}
