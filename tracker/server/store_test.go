package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/tracker"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestStoreExpiryAfterTwoIntervals(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newStore(limits{maxTorrents: 10, maxPeersPerTorrent: 10, maxPeers: 10}, 2*time.Minute, clk.now)
	ih := id(1)
	s.announce(announceIn{infoHash: ih, peerID: id(1), addr: ap("10.0.0.1:1"), left: 5, numWant: 50})
	clk.advance(90 * time.Second)
	s.announce(announceIn{infoHash: ih, peerID: id(2), addr: ap("10.0.0.2:2"), left: 5, numWant: 50})
	clk.advance(30 * time.Second) // peer 1 is exactly 2 min old: kept
	out, _ := s.announce(announceIn{infoHash: ih, peerID: id(3), addr: ap("10.0.0.3:3"), left: 5, numWant: 50})
	if len(out.peers) != 2 {
		t.Fatalf("peers %v", out.peers)
	}
	clk.advance(time.Second) // now older than two intervals
	out, _ = s.announce(announceIn{infoHash: ih, peerID: id(3), addr: ap("10.0.0.3:3"), left: 5, numWant: 50})
	if len(out.peers) != 1 || out.peers[0].ID != id(2) {
		t.Fatalf("peers %v", out.peers)
	}
	clk.advance(10 * time.Minute)
	s.sweep()
	if len(s.swarms) != 0 || s.total != 0 {
		t.Fatalf("sweep left %d swarms, %d peers", len(s.swarms), s.total)
	}
}

func TestStoreSelfSeedsAndNumWant(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newStore(limits{maxTorrents: 10, maxPeersPerTorrent: 1000, maxPeers: 1000}, time.Hour, clk.now)
	ih := id(1)
	for i := range 300 {
		s.announce(announceIn{infoHash: ih, peerID: [20]byte{byte(i), byte(i >> 8), 1}, addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1), left: int64(i % 2), numWant: 0})
	}
	me := announceIn{infoHash: ih, peerID: [20]byte{5, 0, 1}, addr: ap("10.0.0.5:1"), left: 1, numWant: 200}
	out, _ := s.announce(me)
	if len(out.peers) != 200 || out.complete != 150 || out.incomplete != 150 {
		t.Fatalf("%d peers, %d/%d", len(out.peers), out.complete, out.incomplete)
	}
	seen := map[[20]byte]bool{}
	for _, p := range out.peers {
		if p.ID == me.peerID || p.Addr == me.addr || seen[p.ID] {
			t.Fatalf("self or duplicate returned: %+v", p)
		}
		seen[p.ID] = true
	}
	// Same address under a new peer id (a restarted client) is not returned to itself.
	me2 := me
	me2.peerID = id(0xee)
	me2.numWant = 1000
	out, _ = s.announce(me2)
	for _, p := range out.peers {
		if p.Addr == me.addr {
			t.Fatal("own address returned")
		}
	}
	// A seed gets only leechers.
	seed := announceIn{infoHash: ih, peerID: [20]byte{4, 0, 1}, addr: ap("10.0.0.4:1"), left: 0, numWant: 1000}
	out, _ = s.announce(seed)
	for _, p := range out.peers {
		if p.Seed {
			t.Fatal("seed got a seed")
		}
	}
	if len(out.peers) == 0 {
		t.Fatal("seed got no leechers")
	}
}

func TestStoreCaps(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newStore(limits{maxTorrents: 2, maxPeersPerTorrent: 3, maxPeers: 4}, time.Hour, clk.now)
	a := func(ih byte, p byte) error {
		_, err := s.announce(announceIn{infoHash: id(ih), peerID: id(p), addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, ih, p}), 1), numWant: 5})
		return err
	}
	for p := range byte(3) {
		if err := a(1, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := a(1, 9); !errors.Is(err, ErrTooManyPeers) {
		t.Fatalf("per torrent: %v", err)
	}
	if err := a(1, 0); err != nil { // re-announce of a known peer is fine
		t.Fatal(err)
	}
	if err := a(2, 1); err != nil {
		t.Fatal(err)
	}
	if err := a(2, 2); !errors.Is(err, ErrTrackerFull) {
		t.Fatalf("overall: %v", err)
	}
	if err := a(3, 1); !errors.Is(err, ErrTooManyTorrents) {
		t.Fatalf("torrents: %v", err)
	}
	if s.total != 4 || len(s.swarms) != 2 {
		t.Fatalf("total %d swarms %d", s.total, len(s.swarms))
	}
}

// get sends a raw announce/scrape to the server and decodes the bencoded answer.
func get(t *testing.T, rawURL string) map[string]any {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := bencode.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: body %q: %v", rawURL, b, err)
	}
	return m
}

func TestHTTPBadRequests(t *testing.T) {
	s := startServer(t, Config{})
	ih := url.QueryEscape(string(make([]byte, 20)))
	pid := strings.Repeat("p", 20)
	base := s.AnnounceURL()
	for q, want := range map[string]string{
		"peer_id=" + pid + "&port=1":                              "missing info_hash",
		"info_hash=abc&peer_id=" + pid + "&port=1":                "invalid info_hash",
		"info_hash=" + ih + "&peer_id=short&port=1":               "invalid peer_id",
		"info_hash=" + ih + "&peer_id=" + pid + "&port=0":         "invalid port",
		"info_hash=" + ih + "&peer_id=" + pid + "&port=70000":     "invalid port",
		"info_hash=" + ih + "&peer_id=" + pid + "&port=x":         "invalid port",
		"info_hash=" + ih + "&peer_id=" + pid + "&port=1&left=-1": "invalid left",
		"info_hash=" + ih + "&peer_id=" + pid + "&port=1&event=x": "invalid event",
		"info_hash=%zz":                          "bad escape",
		"info_hash=" + strings.Repeat("a", 5000): "query too long",
	} {
		m := get(t, base+"?"+q)
		if r, _ := m["failure reason"].(string); !strings.Contains(r, want) {
			t.Errorf("%.60s: failure %q, want %q", q, r, want)
		}
	}
	// An over-long request line is refused by the HTTP layer, not served.
	resp, err := http.Get(base + "?x=" + strings.Repeat("a", 20000))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("huge request line served")
		}
	}
	if m := get(t, s.ScrapeURL()); !strings.Contains(m["failure reason"].(string), "full scrape") {
		t.Fatalf("%v", m)
	}
}

func TestHTTPDictionaryAndPeers6(t *testing.T) {
	s := startServer(t, Config{})
	ih := id(3)
	ann := func(host string, pid byte, extra string) map[string]any {
		q := "info_hash=" + url.QueryEscape(string(ih[:])) + "&peer_id=" + url.QueryEscape(strings.Repeat(string(rune(pid)), 20)) + "&port=" + itoa(int(pid)) + "&left=1" + extra
		return get(t, "http://"+host+"/announce?"+q)
	}
	addr := s.HTTPAddr().String()
	ann(addr, 1, "")
	m := ann(addr, 2, "&compact=0")
	list, ok := m["peers"].([]any)
	if !ok || len(list) != 1 {
		t.Fatalf("dictionary peers: %#v", m["peers"])
	}
	p := list[0].(map[string]any)
	if p["ip"] != "127.0.0.1" || p["port"] != int64(1) || p["peer id"] != strings.Repeat("\x01", 20) {
		t.Fatalf("peer %#v", p)
	}
	m = ann(addr, 2, "&compact=0&no_peer_id=1")
	if _, has := m["peers"].([]any)[0].(map[string]any)["peer id"]; has {
		t.Fatal("peer id sent despite no_peer_id")
	}
	// IPv6: a peer announcing over ::1 comes back in peers6.
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback")
	}
	ln.Close()
	s6 := startServer(t, Config{HTTPAddr: "[::1]:0"})
	a6 := s6.HTTPAddr().String()
	ann(a6, 1, "")
	m = ann(a6, 2, "")
	if p6, _ := m["peers6"].(string); len(p6) != 18 || m["peers"] != "" {
		t.Fatalf("peers %q peers6 %q", m["peers"], m["peers6"])
	}
	r, err := tracker.NewClient(tracker.Options{}).Announce(context.Background(), s6.AnnounceURL(),
		tracker.AnnounceRequest{InfoHash: ih, PeerID: id(3), Port: 3, Left: 1})
	if err != nil || len(r.Peers) != 2 || !r.Peers[0].Addr().Is6() {
		t.Fatalf("%+v %v", r, err)
	}
	// UDP over IPv6 returns 18-byte peers.
	s6u := startServer(t, Config{HTTPAddr: "[::1]:0", UDPAddr: "[::1]:0"})
	c := testClient()
	c.Announce(context.Background(), s6u.UDPAnnounceURL(), tracker.AnnounceRequest{InfoHash: ih, PeerID: id(1), Port: 1, Left: 1})
	r, err = c.Announce(context.Background(), s6u.UDPAnnounceURL(), tracker.AnnounceRequest{InfoHash: ih, PeerID: id(2), Port: 2, Left: 1})
	if err != nil || len(r.Peers) != 1 || r.Peers[0] != ap("[::1]:1") {
		t.Fatalf("udp6 %+v %v", r, err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestUDPBadConnectionID(t *testing.T) {
	s := newServer(Config{})
	from := ap("127.0.0.1:9")
	a := tracker.UDPAnnounce{ConnectionID: 12345, TransactionID: 77, Port: 1}
	out := s.handleUDP(nil, tracker.AppendUDPAnnounceRequest(nil, &a), from)
	h, _ := tracker.ParseUDPHeader(out)
	if h.Action != tracker.ActionError || h.TransactionID != 77 || tracker.ParseUDPError(out) != "bad connection id" {
		t.Fatalf("%+v %q", h, tracker.ParseUDPError(out))
	}
	// A connection id is bound to the address that obtained it.
	cid := s.connectionID(from, s.bucket())
	if s.validConnectionID(ap("127.0.0.2:9"), cid) || !s.validConnectionID(ap("127.0.0.1:10"), cid) {
		t.Fatal("connection id not bound to the IP")
	}
}

func TestUDPConnectionIDValidity(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newServer(Config{Now: clk.now})
	from := ap("127.0.0.1:9")
	cid := s.connectionID(from, s.bucket())
	clk.advance(2 * time.Minute)
	if !s.validConnectionID(from, cid) {
		t.Fatal("expired before two minutes")
	}
	clk.advance(time.Minute)
	if s.validConnectionID(from, cid) {
		t.Fatal("still valid after three minutes")
	}
}
