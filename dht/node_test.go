package dht

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAnnounceThenSearch: one node of a loopback DHT announces a port for
// an info-hash; another node's search finds that peer.
func TestAnnounceThenSearch(t *testing.T) {
	c := startCluster(t, 6)
	for i, nd := range c.nodes {
		if nd.Public() {
			t.Fatalf("node %d: loopback bootstrap should select the local policy", i)
		}
	}
	ih := [20]byte{1, 2, 3}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := c.nodes[1].Search(ctx, ih, SearchOptions{AnnouncePort: 51413}); err != nil {
		t.Fatal(err)
	}
	if st := c.nodes[1].Stats(); st.AnnouncesAccepted == 0 {
		t.Fatalf("no announce accepted: %+v", st)
	}
	want := mustAddrPort(t, "127.0.0.1:51413")
	res := searchUntil(t, c.nodes[5], ih, want, 30*time.Second)
	if len(res.Responders) == 0 || res.Tried == 0 {
		t.Fatalf("result lists no nodes: %+v", res)
	}
}

// TestRestartReloadsSavedNodes: a node saves its routing table at Close;
// started again with the same file and no bootstrap routers, it reloads
// the nodes, reaches them and finds a peer announced meanwhile.
func TestRestartReloadsSavedNodes(t *testing.T) {
	c := startCluster(t, 5)
	file := NodesFile(filepath.Join(t.TempDir(), "dht.nodes"))
	first := startLone(t, Config{Bootstrap: c.addrs[:3], Nodes: file})
	if res, err := first.WaitBootstrap(t.Context()); err != nil || res.Responses == 0 {
		t.Fatalf("first bootstrap: %+v %v", res, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := file.LoadNodes()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := DecodeNodes(b)
	if err != nil || len(saved) < 3 {
		t.Fatalf("saved %d nodes (%v)", len(saved), err)
	}

	ih := [20]byte{9}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := c.nodes[3].Search(ctx, ih, SearchOptions{AnnouncePort: 7000}); err != nil {
		t.Fatal(err)
	}
	second := startLone(t, Config{Nodes: file}) // Bootstrap: none
	res, err := second.WaitBootstrap(ctx)
	if err != nil || res.SavedNodes != len(saved) || res.Responses == 0 {
		t.Fatalf("second bootstrap: %+v %v (saved %d)", res, err, len(saved))
	}
	searchUntil(t, second, ih, mustAddrPort(t, "127.0.0.1:7000"), 30*time.Second)
}

func TestNodesEncoding(t *testing.T) {
	in := []NodeInfo{
		{ID: [20]byte{1}, Addr: netip.MustParseAddrPort("127.0.0.1:1")},
		{ID: [20]byte{2}, Addr: netip.MustParseAddrPort("[2001:db8::1]:65535")},
		{ID: [20]byte{}, Addr: netip.MustParseAddrPort("127.0.0.1:2")},  // zero id: skipped
		{ID: [20]byte{3}, Addr: netip.MustParseAddrPort("127.0.0.1:0")}, // port 0: skipped
	}
	out, err := DecodeNodes(EncodeNodes(in))
	if err != nil || len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Fatalf("%v %v", out, err)
	}
	if _, err := DecodeNodes(make([]byte, 37)); !errors.Is(err, ErrNodesFormat) {
		t.Fatal(err)
	}
	if _, err := DecodeNodes(make([]byte, 38*(MaxSavedNodes+1))); !errors.Is(err, ErrNodesFormat) {
		t.Fatal(err)
	}
	f := NodesFile(filepath.Join(t.TempDir(), "n"))
	if b, err := f.LoadNodes(); b != nil || err != nil {
		t.Fatalf("missing file: %v %v", b, err)
	}
	if err := os.WriteFile(string(f), make([]byte, 38*MaxSavedNodes+38), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.LoadNodes(); !errors.Is(err, ErrNodesFormat) {
		t.Fatalf("oversized file: %v", err)
	}
}

// TestAddNode: a node learned from a PORT message is pinged and enters the
// routing table; bad ports are refused and pending pings are bounded.
func TestAddNode(t *testing.T) {
	a := startLone(t, Config{})
	b := startLone(t, Config{})
	if err := a.AddNode(b.Addr()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := false
		for _, n := range a.Nodes() {
			if n.ID == b.ID() && n.Addr == b.Addr() {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b not in a's table: %v", a.Nodes())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := a.AddNode(netip.MustParseAddrPort("127.0.0.1:0")); !errors.Is(err, ErrAddrRefused) {
		t.Fatalf("port 0: %v", err)
	}
	if err := a.AddNode(netip.MustParseAddrPort("[::1]:6881")); !errors.Is(err, ErrAddrRefused) {
		t.Fatalf("IPv6 on an IPv4 socket: %v", err)
	}
	// Pings to a silent address stay pending; past 32 of them AddNode refuses.
	silent := listenLoopback(t)
	defer silent.Close()
	busy := false
	for range 40 {
		if err := a.AddNode(addrPortOf(silent.LocalAddr())); errors.Is(err, ErrBusy) {
			busy = true
			break
		}
	}
	if !busy {
		t.Fatal("pending pings not bounded")
	}
	a.Close()
	if err := a.AddNode(b.Addr()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
