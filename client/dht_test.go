package client

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/dht"
	"github.com/effusion-bt/effusion/metainfo"
)

// loopbackDHT is a DHT of n in-process nodes on 127.0.0.1, closed at
// cleanup.
func loopbackDHT(t *testing.T, n int) *dht.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl, err := dht.StartCluster(ctx, n, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// dhtClient is a client on the given DHT, without LSD.
func dhtClient(t *testing.T, boot []string, dataDir string) *Client {
	t.Helper()
	c, err := New(context.Background(), Config{DataDir: dataDir, ListenAddr: "127.0.0.1:0", Logger: quiet(), DHTBootstrap: boot})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

// privateFixture is fx's payload in a private torrent (BEP 27).
func privateFixture(t *testing.T, fx fixture) *metainfo.MetaInfo {
	t.Helper()
	mi, _, err := metainfo.Build(context.Background(), filepath.Join(fx.dir, "payload"),
		metainfo.BuildOptions{PieceLength: 32 << 10, Private: true})
	if err != nil || !mi.Info.Private {
		t.Fatal(err)
	}
	return mi
}

// TestClientDHT: with no tracker and no peers, a leecher finds a seeder
// through the DHT (the seeder's announcer announced it) and completes. A
// private torrent is never announced or searched: no node stores a peer for
// it, and it has no announcer. The routing table is saved in the data
// directory at shutdown.
func TestClientDHT(t *testing.T) {
	cl := loopbackDHT(t, 6)
	boot := cl.Addrs()[:3]
	fx := newFixture(t, 900_001, 50_000)
	priv := privateFixture(t, fx)

	sd := dhtClient(t, boot, t.TempDir())
	for _, mi := range []*metainfo.MetaInfo{fx.mi, priv} {
		tt, err := sd.Add(context.Background(), Spec{Torrent: mi, Dir: fx.dir})
		if err != nil {
			t.Fatal(err)
		}
		await(t, tt)
	}
	data, dl := t.TempDir(), t.TempDir()
	lc := dhtClient(t, boot, data)
	tt, err := lc.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := lc.Add(context.Background(), Spec{Torrent: priv, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := tt.Await(ctx); err != nil {
		st, _ := tt.DHTStatus()
		t.Fatalf("no download through the DHT: %v (announcer %+v)", err, st)
	}
	sameFiles(t, fx, dl)
	if st, ok := tt.DHTStatus(); !ok || st.TotalPeers == 0 {
		t.Fatalf("announcer status %+v %v", st, ok)
	}
	if _, ok := pt.DHTStatus(); ok {
		t.Fatal("a private torrent has a DHT announcer")
	}
	nodes := append(slices.Clone(cl.Nodes), sd.DHT(), lc.DHT())
	for _, nd := range nodes {
		if ps := nd.PeerStore().Peers(priv.InfoHash); len(ps) > 0 {
			t.Fatalf("node %v stores peers %v of a private torrent", nd.Addr(), ps)
		}
	}
	if st := pt.Stats(); st.Peers != 0 || st.PiecesHave != 0 {
		t.Fatalf("the private torrent found peers: %+v", st)
	}
	if err := lc.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(data, NodesFile)); err != nil || len(b) == 0 {
		t.Fatalf("routing table not saved: %v", err)
	}
}

// TestClientNoDHT: Config.NoDHT leaves the node off.
func TestClientNoDHT(t *testing.T) {
	c, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(), NoDHT: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown(context.Background())
	if c.DHT() != nil {
		t.Fatal("a DHT node with NoDHT")
	}
	if _, ok := c.LSDStats(); ok {
		t.Fatal("LSD on in a test binary")
	}
}

// TestClientBadBootstrap: a bootstrap entry that is not HOST:PORT fails New.
func TestClientBadBootstrap(t *testing.T) {
	_, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(), DHTBootstrap: []string{"nope"}})
	if err == nil {
		t.Fatal("New accepted a bad bootstrap address")
	}
}

// TestLoopbackOnly: a client listening on loopback only stays on the
// machine (no public DHT routers, no LSD) outside tests too.
func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:6881": true, "[::1]:0": true, "localhost:6881": true, "127.1.2.3:0": true,
		":6881": false, "0.0.0.0:6881": false, "192.168.1.2:6881": false, "[::]:1": false, "bad": false,
	} {
		if got := loopbackOnly(addr); got != want {
			t.Errorf("%q: %v", addr, got)
		}
	}
}
