package tracker

import (
	"net/netip"
	"testing"
)

func FuzzParseAnnounceBody(f *testing.F) {
	f.Add([]byte("d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d14:failure reason6:deniede"))
	f.Add([]byte("d8:completei1e10:incompletei2e8:intervali60e12:min intervali30e5:peersld2:ip9:127.0.0.14:porti80eee6:peers618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50e"))
	f.Add([]byte("d10:tracker id3:abc15:warning message4:slowe"))
	f.Add([]byte("<html>"))
	f.Add([]byte(unsortedAnnounce))
	f.Add([]byte(duplicateAnnounce))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseAnnounceBody(body, 100)
		if err != nil {
			return
		}
		if len(r.Peers) > 200 { // peers + peers6, each capped
			t.Fatalf("%d peers past the cap", len(r.Peers))
		}
		for _, p := range r.Peers {
			if p.Port() == 0 || !p.Addr().IsValid() {
				t.Fatalf("unusable peer %v", p)
			}
		}
		if len(r.Warning) > 3*MaxFailureReason || len(r.TrackerID) > 3*MaxFailureReason {
			t.Fatal("text not capped")
		}
	})
}

func FuzzParseScrapeBody(f *testing.F) {
	f.Add([]byte("d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi2e10:incompletei3eeee"))
	f.Add([]byte("d14:failure reason2:noe"))
	f.Add([]byte("d5:filesdee"))
	f.Add([]byte(unsortedScrape))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseScrapeBody(body)
		if err == nil && len(m) > MaxScrapeFiles {
			t.Fatal("scrape map past the cap")
		}
	})
}

// FuzzUDPResponse feeds arbitrary datagrams to every response parser a UDP
// client uses, as either address family.
func FuzzUDPResponse(f *testing.F) {
	f.Add(AppendUDPConnectResponse(nil, 1, 2), false)
	f.Add(AppendUDPAnnounceResponse(nil, 1, 60, 1, 1, []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5")}, false), false)
	f.Add(AppendUDPAnnounceResponse(nil, 1, 60, 1, 1, []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::1]:5")}, true), true)
	f.Add(AppendUDPScrapeResponse(nil, 1, []ScrapeStats{{1, 2, 3}}), false)
	f.Add(AppendUDPError(nil, 1, "bad"), false)
	f.Fuzz(func(t *testing.T, pkt []byte, ipv6 bool) {
		h, err := ParseUDPHeader(pkt)
		if err != nil {
			return
		}
		switch h.Action {
		case ActionConnect:
			_, _ = ParseUDPConnectResponse(pkt)
		case ActionAnnounce:
			r, err := ParseUDPAnnounceResponse(pkt, ipv6, 50)
			if err == nil && len(r.Peers) > 50 {
				t.Fatal("peer cap ignored")
			}
		case ActionScrape:
			_, _ = ParseUDPScrapeResponse(pkt, 3)
		case ActionError:
			if len(ParseUDPError(pkt)) > 3*MaxFailureReason {
				t.Fatal("error text not capped")
			}
		}
	})
}

// FuzzUDPRequest is the server side: arbitrary datagrams as requests.
func FuzzUDPRequest(f *testing.F) {
	a := UDPAnnounce{ConnectionID: 1, TransactionID: 2, Port: 3, NumWant: -1}
	f.Add(AppendUDPAnnounceRequest(nil, &a))
	f.Add(AppendUDPConnectRequest(nil, 7))
	f.Add(AppendUDPScrapeRequest(nil, 1, 2, [][20]byte{{1}}))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		h, err := ParseUDPRequestHeader(pkt)
		if err != nil {
			return
		}
		if a, err := ParseUDPAnnounceRequest(pkt); err == nil && h.Action == ActionAnnounce {
			if b := AppendUDPAnnounceRequest(nil, &a); string(b) != string(pkt[:UDPAnnounceRequestLen]) {
				t.Fatal("announce does not round-trip")
			}
		}
		if hs, err := ParseUDPScrapeRequest(pkt); err == nil && (len(hs) == 0 || len(hs) > UDPMaxScrapeHashes) {
			t.Fatal("scrape hash count out of bounds")
		}
	})
}
