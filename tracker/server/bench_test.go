package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/effusion-bt/effusion/tracker"
)

// fillSwarm puts n peers (half seeds) into one torrent.
func fillSwarm(s *Server, ih [20]byte, n int) {
	for i := range n {
		s.store.announce(announceIn{infoHash: ih, peerID: [20]byte{byte(i), byte(i >> 8), byte(i >> 16), 9},
			addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 1), left: int64(i % 2)})
	}
}

// BenchmarkStoreAnnounce: one announce into a 4999-peer swarm returning 50
// peers (the store alone: the baseline for the two protocol benchmarks).
func BenchmarkStoreAnnounce(b *testing.B) {
	s := newServer(Config{})
	ih := id(1)
	fillSwarm(s, ih, 4999)
	in := announceIn{infoHash: ih, peerID: id(0xfe), addr: netip.MustParseAddrPort("10.9.9.9:1"), left: 1, numWant: 50}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.store.announce(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUDPAnnounce: a whole BEP 15 announce (parse, connection id
// check, store, encode) as the UDP loop runs it, minus the socket.
func BenchmarkUDPAnnounce(b *testing.B) {
	s := newServer(Config{})
	ih := id(1)
	fillSwarm(s, ih, 4999)
	from := netip.MustParseAddrPort("10.9.9.9:1")
	a := tracker.UDPAnnounce{ConnectionID: s.connectionID(from, s.bucket()), TransactionID: 1, InfoHash: ih, PeerID: id(0xfe), Left: 1, NumWant: 50, Port: 1}
	pkt := tracker.AppendUDPAnnounceRequest(nil, &a)
	out := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		if r := s.handleUDP(out[:0], pkt, from); len(r) != 20+50*6 {
			b.Fatalf("reply of %d bytes", len(r))
		}
	}
}

// BenchmarkHTTPAnnounce: the same announce through the HTTP handler (query
// parsing, bencoded reply), minus the socket.
func BenchmarkHTTPAnnounce(b *testing.B) {
	s := newServer(Config{})
	ih := id(1)
	fillSwarm(s, ih, 4999)
	h := s.httpHandler()
	target := "/announce?info_hash=" + url.QueryEscape(string(ih[:])) + "&peer_id=" + strings.Repeat("%FE", 20) +
		"&port=1&uploaded=0&downloaded=0&left=1&compact=1&numwant=50"
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.RemoteAddr = "10.9.9.9:5555"
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
