package dht

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// TestInteropBittorrentDHT: webtorrent's bittorrent-dht (npm) joins a
// loopback DHT of our nodes; its lookup finds the peer one of our nodes
// announced, and our search finds the peer it announced.
func TestInteropBittorrentDHT(t *testing.T) {
	node, script := testpeer.NPM(t, "bittorrent-dht", "dht_node.mjs")
	c := startCluster(t, 4)
	ours, theirs := [20]byte{0x11, 0x22}, [20]byte{0x33, 0x44}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if _, err := c.nodes[1].Search(ctx, ours, SearchOptions{AnnouncePort: 7201}); err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreeUDPPort(t)
	js := testpeer.Start(t, "", node, script, strconv.Itoa(port), strings.Join(c.addrs[:2], ","),
		hex.EncodeToString(ours[:]), hex.EncodeToString(theirs[:]), "7202")
	js.WaitLine(t, "PEER 127.0.0.1:7201 "+hex.EncodeToString(ours[:]), 60*time.Second)
	js.WaitLine(t, "ANNOUNCED", 60*time.Second)
	searchUntil(t, c.nodes[3], theirs, mustAddrPort(t, "127.0.0.1:7202"), 60*time.Second)
}

// TestInteropLibtorrent: libtorrent (python3-libtorrent, DHT on) joins a
// loopback DHT of our nodes. It seeds a torrent and announces it: our
// search finds it. Our node announces a port: libtorrent's get_peers finds
// it.
func TestInteropLibtorrent(t *testing.T) {
	py := testpeer.Python(t)
	c := startCluster(t, 4)
	boot := strings.Join(c.addrs[:2], ",")

	seedPort := testpeer.FreePort(t)
	seeder := testpeer.Start(t, "", py, "testdata/lt_dht.py", "seed", t.TempDir(), strconv.Itoa(seedPort), boot)
	line := seeder.WaitLine(t, "INFOHASH ", 30*time.Second)
	ihb, err := hex.DecodeString(strings.TrimPrefix(line, "INFOHASH "))
	if err != nil || len(ihb) != 20 {
		t.Fatalf("bad info-hash line %q", line)
	}
	seeder.WaitLine(t, "ANNOUNCED", 60*time.Second)
	searchUntil(t, c.nodes[3], [20]byte(ihb), mustAddrPort(t, "127.0.0.1:"+strconv.Itoa(seedPort)), 60*time.Second)

	ours := [20]byte{0x55, 0x66}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := c.nodes[2].Search(ctx, ours, SearchOptions{AnnouncePort: 7301}); err != nil {
		t.Fatal(err)
	}
	getter := testpeer.Start(t, "", py, "testdata/lt_dht.py", "get_peers", hex.EncodeToString(ours[:]), strconv.Itoa(testpeer.FreePort(t)), boot)
	getter.WaitLine(t, "PEER 127.0.0.1:7301", 60*time.Second)
}
