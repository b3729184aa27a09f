package client

import (
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/peerwire"
)

// Encryption (MSE) against real clients on loopback, whole downloads.

// ltForced is libtorrent with encryption forced both ways, RC4 only.
const ltForced = `{"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2}`

func lp(port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// torrentFile writes fx's torrent (announcing to tracker, if any) and
// returns its path.
func torrentFile(t *testing.T, fx fixture, tracker string) (string, *metainfo.MetaInfo) {
	t.Helper()
	mi, tb, err := metainfo.Build(context.Background(), filepath.Join(fx.dir, "payload"),
		metainfo.BuildOptions{PieceLength: 32 << 10, Trackers: trackerTiers(tracker)})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(p, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, mi
}

func trackerTiers(url string) [][]string {
	if url == "" {
		return nil
	}
	return [][]string{{url}}
}

// encClient is a client with the given policy, downloading at most 1 MB/s
// so that its peers stay in Stats for a while.
func encClient(t *testing.T, p mse.Policy) *Client {
	t.Helper()
	c, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(),
		Encryption: p, DownloadRate: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

// awaitWatching waits for tt to complete and reports whether any peer was
// seen encrypted in its Stats meanwhile.
func awaitWatching(t *testing.T, tt *Torrent, within time.Duration) (encrypted bool) {
	t.Helper()
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
			return encrypted
		case <-tick.C:
			for _, ps := range tt.Stats().PeerStats {
				encrypted = encrypted || ps.Encrypted
			}
		}
	}
}

// TestInteropEncryptionFromLibtorrentForced: libtorrent seeds with
// encryption forced. Effusion downloads with require and with prefer (RC4
// on both sides: our Stats, libtorrent's peer flags); with off it gets
// nothing, which proves the forced setting is in force.
func TestInteropEncryptionFromLibtorrentForced(t *testing.T) {
	fx := newFixture(t, 3<<20+77)
	tpath, mi := torrentFile(t, fx, "")
	t.Setenv("LTSET", ltForced)
	python, script := testpeer.Libtorrent(t)
	port := testpeer.FreePort(t)
	lt := testpeer.Start(t, fx.dir, python, script, "seed", tpath, fx.dir, strconv.Itoa(port))
	lt.WaitLine(t, "READY", 30*time.Second)
	for _, p := range []mse.Policy{mse.Require, mse.Prefer} {
		t.Run(p.String(), func(t *testing.T) {
			c := encClient(t, p)
			dl := t.TempDir()
			tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: dl, Peers: []netip.AddrPort{lp(port)}})
			if err != nil {
				t.Fatal(err)
			}
			if !awaitWatching(t, tt, 60*time.Second) {
				t.Error("no encrypted peer in our Stats")
			}
			sameFiles(t, fx, dl)
			if l := lt.WaitLine(t, "PEER 127.0.0.1:", 10*time.Second); !strings.Contains(lt.Output(), "rc4=1") {
				t.Errorf("libtorrent reports no RC4 peer (first: %s)", l)
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		c := encClient(t, mse.Off)
		tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: t.TempDir(), Peers: []netip.AddrPort{lp(port)}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second) // longer than the encrypted downloads' first pieces took
		if st := tt.Stats(); st.PiecesHave != 0 || st.Downloaded != 0 {
			t.Fatalf("plaintext got %d pieces from a forced-encryption seeder", st.PiecesHave)
		}
	})
}

// TestInteropEncryptionSeedRequire: Effusion seeds with encryption
// required; libtorrent (forced) and aria2 (arc4 required) download from it;
// a plain handshake gets no answer.
func TestInteropEncryptionSeedRequire(t *testing.T) {
	fx := newFixture(t, 2<<20+5)
	url, _ := testpeer.StartOpentracker(t, mustInfoHash(t, fx))
	tpath, mi := torrentFile(t, fx, url)
	c := encClient(t, mse.Require)
	tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)

	t.Run("plain refused", func(t *testing.T) {
		conn, err := net.Dial("tcp", lp(int(c.Addr().Port())).String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		peerwire.WriteHandshake(conn, peerwire.Handshake{InfoHash: mi.InfoHash, PeerID: [20]byte{7}})
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := conn.Read(make([]byte, 68)); n != 0 || err == nil {
			t.Fatalf("a plain handshake got %d bytes back (%v)", n, err)
		}
	})
	t.Run("libtorrent", func(t *testing.T) {
		// Slowed, so that the connection is still there when the script
		// looks at its peers.
		t.Setenv("LTSET", strings.TrimSuffix(ltForced, "}")+`, "download_rate_limit": 1000000}`)
		python, script := testpeer.Libtorrent(t)
		dl := t.TempDir()
		lt := testpeer.Start(t, dl, python, script, "leech", tpath, dl, strconv.Itoa(testpeer.FreePort(t)),
			"--peer", lp(int(c.Addr().Port())).String(), "--max-seconds", "60")
		lt.Wait(t, 70*time.Second)
		sameFiles(t, fx, dl)
		if !strings.Contains(lt.Output(), "rc4=1") {
			t.Errorf("libtorrent reports no RC4 peer:\n%s", lt.Output())
		}
	})
	t.Run("aria2", func(t *testing.T) {
		bin := testpeer.Require(t, "aria2c")
		dl := t.TempDir()
		args := append(testpeer.Aria2Args(testpeer.FreePort(t)), "--bt-tracker-interval=1", "--seed-time=0",
			"--bt-require-crypto=true", "--bt-min-crypto-level=arc4", "--dir="+dl, tpath)
		a := testpeer.Start(t, dl, bin, args...)
		a.Wait(t, 60*time.Second)
		sameFiles(t, fx, dl)
	})
	if n := c.ListenerCounts(); n.Encrypted < 2 || n.Refused < 1 {
		t.Errorf("listener counts %+v: want 2 encrypted, 1 refused", n)
	}
}

// TestInteropEncryptionFromTransmissionRequired: Transmission seeds with
// encryption required; Effusion dials it and downloads over RC4.
func TestInteropEncryptionFromTransmissionRequired(t *testing.T) {
	bin := testpeer.Require(t, "transmission-cli")
	fx := newFixture(t, 2<<20+9)
	tpath, mi := torrentFile(t, fx, "")
	port := testpeer.FreePort(t)
	tr := testpeer.Start(t, fx.dir, bin, "-g", filepath.Join(t.TempDir(), "cfg"), "-w", fx.dir,
		"-p", strconv.Itoa(port), "-D", "-U", "-M", "-er", tpath)
	tr.WaitPort(t, port, 30*time.Second)
	c := encClient(t, mse.Prefer)
	dl := t.TempDir()
	tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: dl, Peers: []netip.AddrPort{lp(port)}})
	if err != nil {
		t.Fatal(err)
	}
	if !awaitWatching(t, tt, 90*time.Second) {
		t.Error("Transmission (encryption required) served us, but not over RC4")
	}
	sameFiles(t, fx, dl)
}

func mustInfoHash(t *testing.T, fx fixture) [20]byte {
	t.Helper()
	return fx.mi.InfoHash
}
