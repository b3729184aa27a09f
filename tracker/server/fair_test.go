package server

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// v4 is the IPv4 address 10.a.b.c.
func v4(a, b, c byte) netip.Addr { return netip.AddrFrom4([4]byte{10, a, b, c}) }

func hashN(n int) (h [20]byte) {
	h[0], h[1], h[2], h[19] = byte(n), byte(n>>8), byte(n>>16), 0xee
	return h
}

// A full tracker makes room for a new torrent by evicting the least
// recently announced torrent without a seeder; seeded torrents are never
// evicted, and when every torrent has a seeder a new one is refused.
func TestStoreEvictsOldestSeederless(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newStore(limits{maxTorrents: 4, maxPeersPerTorrent: 10, maxPeers: 100}, time.Hour, clk.now)
	ann := func(n int, ip netip.Addr, left int64) error {
		clk.advance(time.Second)
		_, err := s.announce(announceIn{infoHash: hashN(n), peerID: id(byte(n)), addr: netip.AddrPortFrom(ip, 1), left: left})
		return err
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ann(1, v4(0, 0, 1), 0)) // seeded
	must(ann(2, v4(0, 0, 2), 5)) // seederless, oldest
	must(ann(3, v4(0, 0, 3), 5)) // seederless
	must(ann(4, v4(0, 0, 4), 0)) // seeded
	must(ann(2, v4(0, 0, 2), 5)) // 2 announced again: 3 is now the oldest seederless
	must(ann(5, v4(0, 0, 5), 5))
	if _, _, _, ok := s.scrape(hashN(3)); ok {
		t.Fatal("torrent 3 (least recently announced, no seeder) not evicted")
	}
	for _, n := range []int{1, 2, 4, 5} {
		if _, _, _, ok := s.scrape(hashN(n)); !ok {
			t.Fatalf("torrent %d evicted", n)
		}
	}
	// 2 gains a seeder: 5 is the only seederless one left.
	_, err := s.announce(announceIn{infoHash: hashN(2), peerID: id(0x22), addr: netip.AddrPortFrom(v4(0, 0, 9), 1)})
	must(err)
	must(ann(6, v4(0, 0, 6), 0))
	if _, _, _, ok := s.scrape(hashN(5)); ok {
		t.Fatal("torrent 5 not evicted")
	}
	// Everything seeded: a new torrent is refused.
	if err := ann(7, v4(0, 0, 7), 5); !errors.Is(err, ErrTooManyTorrents) {
		t.Fatalf("all seeded: %v", err)
	}
	// A torrent whose last peer stops is forgotten, which makes room.
	_, err = s.announce(announceIn{infoHash: hashN(4), peerID: id(4), event: evStopped})
	must(err)
	if _, _, _, ok := s.scrape(hashN(4)); ok {
		t.Fatal("torrent 4 without peers still tracked")
	}
	must(ann(7, v4(0, 0, 7), 5))
	if torrents, peers, evicted := s.counts(); torrents != 4 || evicted != 2 || peers != s.total || len(s.created) != 4 {
		t.Fatalf("%d torrents, %d peers, %d evicted, %d creators", torrents, peers, evicted, len(s.created))
	}
	checkLists(t, s)
}

// One address creates at most maxTorrentsPerIP torrents (IPv6 counted by
// /64); it may still join torrents others created, and a torrent it
// created stops counting once it is gone.
func TestStorePerAddressLimit(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := newStore(limits{maxTorrents: 100, maxTorrentsPerIP: 3, maxPeersPerTorrent: 10, maxPeers: 1000}, time.Hour, clk.now)
	a := func(n int, addr string, ev uint32) error {
		_, err := s.announce(announceIn{infoHash: hashN(n), peerID: id(byte(n)), addr: ap(addr), left: 1, event: ev})
		return err
	}
	for n := range 3 {
		if err := a(n, "10.0.0.1:1", evStarted); err != nil {
			t.Fatal(err)
		}
	}
	if err := a(3, "10.0.0.1:2", evStarted); !errors.Is(err, ErrTooManyFromYou) {
		t.Fatalf("fourth torrent from one address: %v", err)
	}
	if err := a(3, "10.0.0.2:1", evStarted); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if err := a(3, "10.0.0.1:1", evStarted); err != nil { // joining is not creating
		t.Fatalf("join: %v", err)
	}
	if err := a(0, "10.0.0.1:1", evStopped); err != nil {
		t.Fatal(err)
	}
	if err := a(4, "10.0.0.1:1", evStarted); err != nil {
		t.Fatalf("after one of its torrents went away: %v", err)
	}
	// IPv6: one /64 is one address; another /64 is another.
	for n := 10; n < 13; n++ {
		if err := a(n, fmt.Sprintf("[2001:db8:0:1::%x]:1", n), evStarted); err != nil {
			t.Fatal(err)
		}
	}
	if err := a(13, "[2001:db8:0:1:ffff::1]:1", evStarted); !errors.Is(err, ErrTooManyFromYou) {
		t.Fatalf("same /64: %v", err)
	}
	if err := a(13, "[2001:db8:0:2::1]:1", evStarted); err != nil {
		t.Fatalf("another /64: %v", err)
	}
	// The limit counts the request's source, not the "ip" it claims.
	_, err := s.announce(announceIn{infoHash: hashN(20), peerID: id(1), addr: ap("10.9.9.9:1"), from: netip.MustParseAddr("10.0.0.1"), left: 1})
	if !errors.Is(err, ErrTooManyFromYou) {
		t.Fatalf("claimed ip: %v", err)
	}
	checkLists(t, s)
}

// SetAllowList forgets the torrents the new list does not allow.
func TestSetAllowList(t *testing.T) {
	s := newServer(Config{})
	for n := range 3 {
		if _, err := s.store.announce(announceIn{infoHash: hashN(n), peerID: id(1), addr: ap("10.0.0.1:1"), left: 1}); err != nil {
			t.Fatal(err)
		}
	}
	s.SetAllowList([][20]byte{hashN(1), hashN(7)})
	if u := s.Usage(); u.Torrents != 1 || u.Peers != 1 {
		t.Fatalf("%+v", u)
	}
	if _, err := s.store.announce(announceIn{infoHash: hashN(2), peerID: id(1), addr: ap("10.0.0.1:1")}); !errors.Is(err, ErrNotAllowed) {
		t.Fatal(err)
	}
	if _, err := s.store.announce(announceIn{infoHash: hashN(7), peerID: id(1), addr: ap("10.0.0.1:1")}); err != nil {
		t.Fatal(err)
	}
	s.SetAllowList(nil)
	if _, err := s.store.announce(announceIn{infoHash: hashN(2), peerID: id(1), addr: ap("10.0.0.1:1")}); err != nil {
		t.Fatal(err)
	}
	checkLists(t, s.store)
}

// checkLists verifies the store's invariants: every swarm is on the list
// its seeds select, exactly once, and the per-address counts match.
func checkLists(t *testing.T, s *store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	on := map[*swarm]bool{}
	for _, head := range []*swarm{&s.seedless, &s.seeded} {
		for sw := head.next; sw != head; sw = sw.next {
			if on[sw] || sw.next.prev != sw || (sw.seeds > 0) != (head == &s.seeded) || s.swarms[sw.ih] != sw {
				t.Fatalf("list corrupt at %x (seeds %d)", sw.ih[:3], sw.seeds)
			}
			on[sw] = true
		}
	}
	created := map[netip.Addr]int{}
	total := 0
	for _, sw := range s.swarms {
		if !on[sw] {
			t.Fatalf("swarm %x on no list", sw.ih[:3])
		}
		created[sw.creator]++
		total += len(sw.peers)
	}
	if len(created) != len(s.created) || total != s.total {
		t.Fatalf("created %v, store %v; peers %d, store %d", created, s.created, total, s.total)
	}
	for k, n := range created {
		if s.created[k] != n {
			t.Fatalf("creator %v: %d, store %d", k, n, s.created[k])
		}
	}
}

func TestParseAllowList(t *testing.T) {
	h1 := strings.Repeat("ab", 20)
	h2 := strings.Repeat("0F", 20)
	list, err := ParseAllowList(strings.NewReader("# torrents\n\n" + h1 + "\n  " + h2 + "  # the other one\r\n" + h1 + "\n"))
	if err != nil || len(list) != 2 || list[0] != [20]byte(bytesOf(0xab)) || list[1] != [20]byte(bytesOf(0x0f)) {
		t.Fatalf("%x %v", list, err)
	}
	for in, want := range map[string]string{
		"":                                    "no info-hashes",
		"# nothing\n":                         "no info-hashes",
		h1 + "\nabc\n":                        "line 2: want 40 hexadecimal digits, got 3 characters",
		strings.Repeat("zz", 20) + "\n":       "line 1: not a hexadecimal info-hash",
		h1 + " " + h2 + "\n":                  "line 1: want 40 hexadecimal digits, got 81 characters",
		strings.Repeat("#", 5000) + "\n":      "line 1: longer than 4096 bytes",
		h1 + "\n" + strings.Repeat("a", 5000): "line 2: longer than 4096 bytes",
	} {
		_, err := ParseAllowList(strings.NewReader(in))
		if !errors.Is(err, ErrBadAllowList) || !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%.50q: %v, want %q", in, err, want)
		}
	}
}

func bytesOf(b byte) []byte {
	out := make([]byte, 20)
	for i := range out {
		out[i] = b
	}
	return out
}

// FuzzParseAllowList: any input yields hashes or an error, never a panic;
// every hash returned is written in the input.
func FuzzParseAllowList(f *testing.F) {
	f.Add("# c\n" + strings.Repeat("ab", 20) + "\n")
	f.Add(strings.Repeat("0", 40) + "#x\r\n\n" + strings.Repeat("F", 40))
	f.Add("xyz")
	f.Fuzz(func(t *testing.T, in string) {
		list, err := ParseAllowList(strings.NewReader(in))
		if err != nil {
			if len(list) != 0 {
				t.Fatal("hashes with an error")
			}
			return
		}
		if len(list) == 0 {
			t.Fatal("empty list without an error")
		}
		low := strings.ToLower(in)
		for _, h := range list {
			if !strings.Contains(low, fmt.Sprintf("%x", h)) {
				t.Fatalf("hash %x not in the input", h)
			}
		}
	})
}

// UDPOnHTTPAddr serves UDP on the HTTP listener's address and port, also
// when port 0 picks it.
func TestUDPOnHTTPAddr(t *testing.T) {
	for range 3 {
		s, err := Start(t.Context(), Config{HTTPAddr: "127.0.0.1:0", UDPOnHTTPAddr: true})
		if err != nil {
			t.Fatal(err)
		}
		h, u := s.HTTPAddr(), s.UDPAddr()
		s.Close()
		if !h.IsValid() || h != u {
			t.Fatalf("http %v udp %v", h, u)
		}
	}
	for _, cfg := range []Config{{UDPAddr: "127.0.0.1:0", UDPOnHTTPAddr: true}, {HTTPAddr: "127.0.0.1:0", UDPAddr: "127.0.0.1:0", UDPOnHTTPAddr: true}} {
		if s, err := Start(t.Context(), cfg); err == nil {
			s.Close()
			t.Fatalf("%+v accepted", cfg)
		}
	}
}
