package server

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/tracker"
)

// FuzzServerUDP: no datagram panics the server, and every reply starts with
// a well-formed header echoing the request's transaction id.
func FuzzServerUDP(f *testing.F) {
	s := newServer(Config{})
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	a := tracker.UDPAnnounce{ConnectionID: s.connectionID(from, s.bucket()), TransactionID: 2, Port: 3, NumWant: -1}
	f.Add(tracker.AppendUDPAnnounceRequest(nil, &a))
	f.Add(tracker.AppendUDPConnectRequest(nil, 7))
	f.Add(tracker.AppendUDPScrapeRequest(nil, a.ConnectionID, 2, [][20]byte{{1}}))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		// Give the fuzzer a valid connection id to reach the deeper paths.
		if len(pkt) >= 16 && pkt[0] == 0xff {
			b := []byte(pkt)
			cid := s.connectionID(from, s.bucket())
			for i := range 8 {
				b[i] = byte(cid >> (56 - 8*i))
			}
		}
		out := s.handleUDP(nil, pkt, from)
		if len(pkt) < 16 {
			if out != nil {
				t.Fatal("answered a runt packet")
			}
			return
		}
		h, err := tracker.ParseUDPHeader(out)
		if err != nil {
			t.Fatalf("bad reply: %v", err)
		}
		req, _ := tracker.ParseUDPRequestHeader(pkt)
		if h.TransactionID != req.TransactionID {
			t.Fatal("transaction id not echoed")
		}
	})
}

// FuzzServerHTTP: any request target gets a bencoded answer (or a 404/405),
// never a panic.
func FuzzServerHTTP(f *testing.F) {
	s := newServer(Config{})
	h := s.httpHandler()
	f.Add("/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=6881&left=10&event=started")
	f.Add("/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa")
	f.Add("/announce?info_hash=%zz")
	f.Fuzz(func(t *testing.T, target string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || len(target) > 8000 {
			return
		}
		req, err := http.NewRequest("GET", "http://tracker"+target, nil)
		if err != nil {
			return
		}
		req.RemoteAddr = "127.0.0.1:5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if !bencode.Valid(rec.Body.Bytes()) {
				t.Fatalf("invalid bencode %q", rec.Body.Bytes())
			}
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusMovedPermanently, http.StatusTemporaryRedirect:
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}
