package tracker

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
)

func fill(b byte) (h [20]byte) {
	for i := range h {
		h[i] = b
	}
	return h
}

func TestUDPAnnounceRoundTrip(t *testing.T) {
	a := UDPAnnounce{ConnectionID: 0x1122334455667788, TransactionID: 9, InfoHash: fill(1), PeerID: fill(2),
		Downloaded: 3, Left: 4, Uploaded: 5, Event: EventStarted, IP: [4]byte{1, 2, 3, 4}, Key: 6, NumWant: -1, Port: 6881}
	b := AppendUDPAnnounceRequest(nil, &a)
	if len(b) != UDPAnnounceRequestLen {
		t.Fatalf("len %d", len(b))
	}
	got, err := ParseUDPAnnounceRequest(b)
	if err != nil || got != a {
		t.Fatalf("got %+v, %v", got, err)
	}
	h, err := ParseUDPRequestHeader(b)
	if err != nil || h.Action != ActionAnnounce || h.TransactionID != 9 || h.ConnectionID != a.ConnectionID {
		t.Fatalf("header %+v %v", h, err)
	}
	if _, err := ParseUDPAnnounceRequest(b[:97]); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("short: %v", err)
	}
	b[83] = 4 // event 4
	if _, err := ParseUDPAnnounceRequest(b); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("event 4: %v", err)
	}
}

func TestUDPAnnounceResponse(t *testing.T) {
	peers := []netip.AddrPort{
		netip.MustParseAddrPort("10.0.0.1:1"),
		netip.MustParseAddrPort("[2001:db8::1]:2"),
		netip.MustParseAddrPort("[::ffff:10.0.0.2]:3"),
	}
	b4 := AppendUDPAnnounceResponse(nil, 7, 1800, 2, 3, peers, false)
	if len(b4) != 20+2*6 {
		t.Fatalf("v4 len %d", len(b4))
	}
	r, err := ParseUDPAnnounceResponse(b4, false, 0)
	if err != nil || r.Interval != 1800 || r.Leechers != 2 || r.Seeders != 3 {
		t.Fatalf("%+v %v", r, err)
	}
	want4 := []netip.AddrPort{peers[0], netip.MustParseAddrPort("10.0.0.2:3")}
	if !slices.Equal(r.Peers, want4) {
		t.Fatalf("v4 peers %v", r.Peers)
	}
	b6 := AppendUDPAnnounceResponse(nil, 7, 1800, 2, 3, peers, true)
	r, err = ParseUDPAnnounceResponse(b6, true, 0)
	if err != nil || !slices.Equal(r.Peers, peers[1:2]) {
		t.Fatalf("v6 peers %v %v", r.Peers, err)
	}
	// The cap truncates, a partial entry is an error.
	r, err = ParseUDPAnnounceResponse(b4, false, 1)
	if err != nil || len(r.Peers) != 1 || !r.Truncated {
		t.Fatalf("capped %+v %v", r, err)
	}
	if _, err := ParseUDPAnnounceResponse(b4[:25], false, 0); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("partial: %v", err)
	}
	if _, err := ParseUDPAnnounceResponse(b4[:19], false, 0); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("short: %v", err)
	}
}

func TestUDPScrapeAndErrorPackets(t *testing.T) {
	hs := [][20]byte{fill(1), fill(2)}
	req := AppendUDPScrapeRequest(nil, 5, 6, hs)
	got, err := ParseUDPScrapeRequest(req)
	if err != nil || !slices.Equal(got, hs) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseUDPScrapeRequest(req[:16]); err == nil {
		t.Fatal("empty scrape accepted")
	}
	if _, err := ParseUDPScrapeRequest(req[:30]); err == nil {
		t.Fatal("partial hash accepted")
	}
	st := []ScrapeStats{{1, 2, 3}, {4, 5, 6}}
	resp := AppendUDPScrapeResponse(nil, 6, st)
	out, err := ParseUDPScrapeResponse(resp, 2)
	if err != nil || !slices.Equal(out, st) {
		t.Fatalf("%v %v", out, err)
	}
	if _, err := ParseUDPScrapeResponse(resp, 3); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("short scrape: %v", err)
	}
	e := AppendUDPError(nil, 1, "nope\x00\xff")
	if h, _ := ParseUDPHeader(e); h.Action != ActionError || h.TransactionID != 1 {
		t.Fatalf("header %+v", h)
	}
	if m := ParseUDPError(e); m != "nope\uFFFD\uFFFD" {
		t.Fatalf("message %q", m)
	}
	c := AppendUDPConnectResponse(nil, 3, 42)
	if id, err := ParseUDPConnectResponse(c); err != nil || id != 42 {
		t.Fatalf("%d %v", id, err)
	}
}

func TestCompactPeers(t *testing.T) {
	b := []byte{127, 0, 0, 1, 0x1a, 0xe1, 0, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 10, 0, 0, 2, 0, 2}
	ps, err := ParseCompactPeers(nil, b, false, 0)
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:6881"), netip.MustParseAddrPort("10.0.0.2:2")}
	if err != nil || !slices.Equal(ps, want) { // unspecified and port 0 dropped
		t.Fatalf("%v %v", ps, err)
	}
	if _, err := ParseCompactPeers(nil, b[:7], false, 0); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("odd length: %v", err)
	}
	var enc []byte
	for _, p := range want {
		enc = AppendCompactPeer(enc, p)
	}
	if got, _ := ParseCompactPeers(nil, enc, false, 0); !slices.Equal(got, want) {
		t.Fatalf("round trip %v", got)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := bencode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseAnnounceBody(t *testing.T) {
	v4 := AppendCompactPeer(nil, netip.MustParseAddrPort("1.2.3.4:5"))
	v6 := AppendCompactPeer(nil, netip.MustParseAddrPort("[2001:db8::2]:6"))
	body := mustMarshal(t, map[string]any{
		"interval": 1800, "min interval": 900, "tracker id": "tid", "warning message": "careful",
		"complete": 3, "incomplete": 4, "peers": v4, "peers6": v6,
	})
	r, err := ParseAnnounceBody(body, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := AnnounceResponse{Interval: 1800 * time.Second, MinInterval: 900 * time.Second, TrackerID: "tid", Warning: "careful",
		Complete: 3, Incomplete: 4, Peers: []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5"), netip.MustParseAddrPort("[2001:db8::2]:6")}}
	if r.Interval != want.Interval || r.MinInterval != want.MinInterval || r.TrackerID != want.TrackerID ||
		r.Warning != want.Warning || r.Complete != 3 || r.Incomplete != 4 || !slices.Equal(r.Peers, want.Peers) {
		t.Fatalf("got %+v", r)
	}

	dict := mustMarshal(t, map[string]any{"interval": 60, "peers": []any{
		map[string]any{"ip": "10.1.1.1", "port": 80, "peer id": "aaaaaaaaaaaaaaaaaaaa"},
		map[string]any{"ip": "tracker.example", "port": 80}, // DNS names are skipped
		map[string]any{"ip": "2001:db8::9", "port": 81},
		map[string]any{"ip": "10.1.1.2", "port": 70000}, // bad port skipped
	}})
	r, err = ParseAnnounceBody(dict, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Peers, []netip.AddrPort{netip.MustParseAddrPort("10.1.1.1:80"), netip.MustParseAddrPort("[2001:db8::9]:81")}) {
		t.Fatalf("dict peers %v", r.Peers)
	}
	if r.Complete != -1 || r.Incomplete != -1 {
		t.Fatalf("absent counts %d %d", r.Complete, r.Incomplete)
	}

	long := strings.Repeat("x", 5000)
	_, err = ParseAnnounceBody(mustMarshal(t, map[string]any{"failure reason": long}), 0)
	var fe *FailureError
	if !errors.As(err, &fe) || len(fe.Reason) != MaxFailureReason {
		t.Fatalf("failure: %v", err)
	}
	for name, bad := range map[string][]byte{
		"garbage":     []byte("<html>nope</html>"),
		"not a dict":  []byte("le"),
		"peers int":   mustMarshal(t, map[string]any{"peers": 5}),
		"peers odd":   mustMarshal(t, map[string]any{"peers": "12345"}),
		"interval s":  mustMarshal(t, map[string]any{"interval": "soon"}),
		"trailing":    append(mustMarshal(t, map[string]any{"interval": 5}), 'x', '\n'),
		"peer not d":  mustMarshal(t, map[string]any{"peers": []any{int64(1)}}),
		"reason list": mustMarshal(t, map[string]any{"failure reason": []any{}}),
	} {
		if _, err := ParseAnnounceBody(bad, 0); !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A trailing newline (seen from real trackers) is tolerated.
	if r, err := ParseAnnounceBody(append(mustMarshal(t, map[string]any{"interval": 7}), "\r\n"...), 0); err != nil || r.Interval != 7*time.Second {
		t.Fatalf("trailing newline: %+v %v", r, err)
	}
	// Peer cap.
	many := make([]byte, 0, 6*3000)
	for i := range 3000 {
		many = AppendCompactPeer(many, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1))
	}
	r, err = ParseAnnounceBody(mustMarshal(t, map[string]any{"peers": many}), 1000)
	if err != nil || len(r.Peers) != 1000 {
		t.Fatalf("cap: %d %v", len(r.Peers), err)
	}
	// Huge intervals are bounded.
	r, _ = ParseAnnounceBody(mustMarshal(t, map[string]any{"interval": int64(1) << 62}), 0)
	if r.Interval != maxIntervalSeconds*time.Second {
		t.Fatalf("interval %v", r.Interval)
	}
}

func TestParseScrapeBody(t *testing.T) {
	h := fill(9)
	body := mustMarshal(t, map[string]any{"files": map[string]any{
		string(h[:]): map[string]any{"complete": 1, "downloaded": 2, "incomplete": 3},
		"short":      map[string]any{"complete": 1},
	}})
	m, err := ParseScrapeBody(body)
	if err != nil || len(m) != 1 || m[h] != (ScrapeStats{Complete: 1, Downloaded: 2, Incomplete: 3}) {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := ParseScrapeBody([]byte("de")); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("no files: %v", err)
	}
	var fe *FailureError
	if _, err := ParseScrapeBody(mustMarshal(t, map[string]any{"failure reason": "no"})); !errors.As(err, &fe) {
		t.Fatalf("failure: %v", err)
	}
}

func TestAnnounceQuery(t *testing.T) {
	req := AnnounceRequest{InfoHash: [20]byte{0x12, 0x34, 'a', ' ', '~', 0xff}, PeerID: fill('-'), Port: 6881,
		Uploaded: 1, Downloaded: 2, Left: -5, Event: EventCompleted, Key: 0xabc, IP: "10.0.0.1", TrackerID: "t 1"}
	q := AnnounceQuery(&req)
	want := "info_hash=%124a%20~%FF" + strings.Repeat("%00", 14) + "&peer_id=" + strings.Repeat("-", 20) +
		"&port=6881&uploaded=1&downloaded=2&left=0&event=completed&compact=1&no_peer_id=1&numwant=50&key=00000abc&trackerid=t%201&ip=10.0.0.1"
	if q != want {
		t.Fatalf("query\n got %s\nwant %s", q, want)
	}
	req.Event, req.NumWant = EventStopped, 30
	if q := AnnounceQuery(&req); !strings.Contains(q, "event=stopped") || !strings.Contains(q, "numwant=0") {
		t.Fatalf("stopped: %s", q)
	}
	req.Event, req.NumWant = EventNone, -1
	if q := AnnounceQuery(&req); strings.Contains(q, "event=") || strings.Contains(q, "numwant") {
		t.Fatalf("none: %s", q)
	}
}

func TestURLRules(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"http://t.example/announce", "http://t.example/scrape"},
		{"http://t.example/x/announce.php?passkey=1", "http://t.example/x/scrape.php?passkey=1"},
		{"udp://t.example:80/announce", "udp://t.example:80/announce"},
	} {
		got, err := ScrapeURL(c.in)
		if err != nil || got != c.out {
			t.Errorf("%s: %s %v", c.in, got, err)
		}
	}
	for _, in := range []string{"http://t.example/a", "http://t.example/announce/x", "http://t.example/"} {
		if _, err := ScrapeURL(in); !errors.Is(err, ErrScrapeUnsupported) {
			t.Errorf("%s: %v", in, err)
		}
	}
	for _, bad := range []string{"ftp://t.example/announce", "file:///etc/passwd", "udp://t.example/announce",
		"http://user:pw@t.example/announce", "http:///announce", "http://t.example:0/", "http://t.example:99999/",
		"ws://t.example/", "http://" + strings.Repeat("a", MaxURLLen)} {
		if _, err := ParseTrackerURL(bad); !errors.Is(err, ErrBadURL) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}

func TestAddressPolicy(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "192.168.0.1": true, "172.16.0.1": true, "169.254.1.1": true,
		"100.64.0.1": true, "0.0.0.0": true, "::1": true, "fd00::1": true, "fe80::1": true, "::ffff:127.0.0.1": true,
		"8.8.8.8": false, "2001:4860::8888": false, "100.128.0.1": false,
	} {
		if got := IsPrivateAddr(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsPrivateAddr(%s) = %v", s, got)
		}
	}
	pub := &addrGuard{}
	if err := pub.check(netip.MustParseAddr("8.8.8.8")); err != nil {
		t.Fatal(err)
	}
	if err := pub.check(netip.MustParseAddr("1.1.1.1")); err != nil {
		t.Fatal(err)
	}
	if err := pub.check(netip.MustParseAddr("127.0.0.1")); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("public -> loopback allowed: %v", err)
	}
	priv := &addrGuard{}
	for _, a := range []string{"127.0.0.1", "10.0.0.1", "8.8.8.8"} {
		if err := priv.check(netip.MustParseAddr(a)); err != nil {
			t.Fatalf("private origin -> %s: %v", a, err)
		}
	}
	if err := (&addrGuard{}).check(netip.MustParseAddr("224.0.0.1")); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("multicast allowed: %v", err)
	}
}

func TestEventNames(t *testing.T) {
	for _, e := range []Event{EventNone, EventCompleted, EventStarted, EventStopped} {
		got, err := ParseEvent(e.String())
		if err != nil || got != e {
			t.Fatalf("%v: %v %v", e, got, err)
		}
	}
	if _, err := ParseEvent("paused"); !errors.Is(err, ErrBadRequest) {
		t.Fatal(err)
	}
}
