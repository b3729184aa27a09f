package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/dht"
	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
)

// The DHT against real peers, with the effusion binary: a loopback DHT of
// our own nodes (dht.StartCluster, in this process), which libtorrent and
// webtorrent's bittorrent-dht join; no tracker, no peers given, no LSD.

// dhtPayload writes a random file and its torrent (no tracker) and returns
// the torrent's path, the directory holding the file, and the data.
func dhtPayload(t *testing.T, size int) (string, string, []byte, *metainfo.MetaInfo) {
	t.Helper()
	src := t.TempDir()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(src, "payload.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, tb, err := metainfo.Build(context.Background(), filepath.Join(src, "payload.bin"), metainfo.BuildOptions{PieceLength: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tpath := filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(tpath, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	return tpath, src, data, mi
}

// testDHT is a loopback DHT of n of our nodes, closed at cleanup.
func testDHT(t *testing.T, n int) *dht.Cluster {
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

// bootFlags are effusion's flags to join cl (and nothing else).
func bootFlags(cl *dht.Cluster) []string {
	var out []string
	for _, a := range cl.Addrs()[:2] {
		out = append(out, "--dht-bootstrap", a)
	}
	return append(out, "--no-lsd")
}

// awaitAnnounced searches cl until want is among the peers of ih (a guard
// against a hung test bounds it; it is not a timing assertion).
func awaitAnnounced(t *testing.T, cl *dht.Cluster, ih [20]byte, want netip.AddrPort) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		res, _ := cl.Nodes[len(cl.Nodes)-1].Search(ctx, ih, dht.SearchOptions{})
		cancel()
		for _, p := range res.Peers {
			if p == want {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%v never announced for %x", want, ih)
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the payload (%v)", path, err)
	}
}

// TestInteropDHTFromLibtorrent: libtorrent seeds with the DHT only (no
// tracker, no peers in the magnet); effusion download, given a magnet of
// only the info-hash (or the .torrent) and a bootstrap node, finds it
// through the DHT, fetches the metadata and completes.
func TestInteropDHTFromLibtorrent(t *testing.T) {
	python := testpeer.Python(t)
	cl := testDHT(t, 4)
	tpath, src, data, mi := dhtPayload(t, 3<<20+11)
	ltPort := testpeer.FreePort(t)
	lt := testpeer.Start(t, "", python, "testdata/lt_dht_peer.py", "seed", tpath, src, strconv.Itoa(ltPort), cl.Bootstrap())
	lt.WaitLine(t, "READY", 30*time.Second)
	awaitAnnounced(t, cl, mi.InfoHash, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ltPort)))

	for _, what := range []string{"magnet", "torrent"} {
		t.Run(what, func(t *testing.T) {
			src := "magnet:?xt=urn:btih:" + hex.EncodeToString(mi.InfoHash[:])
			if what == "torrent" {
				src = tpath
			}
			dir := t.TempDir()
			args := append([]string{"download", src, "-o", dir, "--port", "0", "--bind", "127.0.0.1", "--data-dir", t.TempDir(), "--json"}, bootFlags(cl)...)
			ef := testpeer.Start(t, "", effusionBin(t), args...)
			ef.Wait(t, 90*time.Second)
			sameFile(t, filepath.Join(dir, "payload.bin"), data)
		})
	}
}

// TestInteropDHTToLibtorrent: effusion seed announces itself on the DHT;
// libtorrent, given a magnet link with only the info-hash, finds it there,
// fetches the metadata and completes; webtorrent's bittorrent-dht finds
// effusion's announce too.
func TestInteropDHTToLibtorrent(t *testing.T) {
	python := testpeer.Python(t)
	cl := testDHT(t, 4)
	tpath, src, data, mi := dhtPayload(t, 2<<20+3)
	port := testpeer.FreePort(t)
	args := append([]string{"seed", tpath, "-d", src, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--data-dir", t.TempDir()}, bootFlags(cl)...)
	testpeer.Start(t, "", effusionBin(t), args...)
	ours := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	awaitAnnounced(t, cl, mi.InfoHash, ours)
	ih := hex.EncodeToString(mi.InfoHash[:])

	t.Run("libtorrent magnet", func(t *testing.T) {
		dir := t.TempDir()
		lt := testpeer.Start(t, "", python, "testdata/lt_dht_peer.py", "magnet", ih, dir, strconv.Itoa(testpeer.FreePort(t)), cl.Bootstrap())
		lt.WaitLine(t, "METADATA", 90*time.Second)
		lt.Wait(t, 90*time.Second)
		sameFile(t, filepath.Join(dir, "payload.bin"), data)
	})
	t.Run("bittorrent-dht", func(t *testing.T) {
		node, script := testpeer.NPM(t, "bittorrent-dht", "dht_node.mjs")
		js := testpeer.Start(t, "", node, script, strconv.Itoa(testpeer.FreeUDPPort(t)), cl.Bootstrap(), ih)
		js.WaitLine(t, "PEER "+ours.String()+" "+ih, 60*time.Second)
	})
}
