package tracker

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
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

// FuzzTrackerURL: ParseTrackerURL and ScrapeURL read URLs from untrusted
// torrents and magnet links; they never panic, refuse with ErrBadURL (or
// ErrScrapeUnsupported), and what they accept keeps their contract: an
// http, https or udp URL of at most MaxURLLen bytes with a host, no user
// info and a usable port (required for udp); the scrape URL is a tracker
// URL of the same scheme and host whose last path segment starts with
// "scrape" (udp: the announce URL itself).
func FuzzTrackerURL(f *testing.F) {
	for _, s := range []string{
		"http://t.example/announce", "https://t.example:443/a/announce.php?passkey=x", "udp://t.example:6969",
		"udp://t.example:6969/announce", "udp://t.example", "http://u:p@t.example/announce", "ftp://t.example/announce",
		"http://t.example:0/announce", "http://t.example:99999/announce", "http://[::1]:80/announce", "http:///announce",
		"http://t.example/x/announce/", "http://t.example/%2e%2e/announce", "http://t.example/announce%zz", "//t/announce",
		"HTTP://T/ANNOUNCE", "http://t.example/announce#frag", "http://t.example/path;announce",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ParseTrackerURL(raw)
		if err != nil {
			if !errors.Is(err, ErrBadURL) {
				t.Fatalf("ParseTrackerURL(%q): %v does not wrap ErrBadURL", raw, err)
			}
		} else {
			checkTrackerURL(t, raw, u)
		}
		s, serr := ScrapeURL(raw)
		switch {
		case serr != nil:
			if !errors.Is(serr, ErrBadURL) && !errors.Is(serr, ErrScrapeUnsupported) {
				t.Fatalf("ScrapeURL(%q): %v wraps neither ErrBadURL nor ErrScrapeUnsupported", raw, serr)
			}
			if err == nil && u.Scheme == "udp" {
				t.Fatalf("ScrapeURL(%q) refused a udp tracker: %v", raw, serr)
			}
		case err != nil:
			t.Fatalf("ScrapeURL(%q) = %q for a URL ParseTrackerURL refuses", raw, s)
		case u.Scheme == "udp":
			if s != raw {
				t.Fatalf("ScrapeURL(%q) = %q, want the udp URL itself", raw, s)
			}
		default:
			su, perr := ParseTrackerURL(s)
			if perr != nil {
				t.Fatalf("ScrapeURL(%q) = %q, not a tracker URL: %v", raw, s, perr)
			}
			checkTrackerURL(t, s, su)
			if su.Scheme != u.Scheme || su.Host != u.Host || su.RawQuery != u.RawQuery {
				t.Fatalf("ScrapeURL(%q) = %q: another scheme, host or query", raw, s)
			}
			if last := su.Path[strings.LastIndexByte(su.Path, '/')+1:]; !strings.HasPrefix(last, "scrape") {
				t.Fatalf("ScrapeURL(%q) = %q: last segment %q", raw, s, last)
			}
		}
	})
}

func checkTrackerURL(t *testing.T, raw string, u *url.URL) {
	t.Helper()
	if len(raw) > MaxURLLen || u.User != nil || u.Hostname() == "" {
		t.Fatalf("ParseTrackerURL accepted %q (%d bytes, user %v, host %q)", raw, len(raw), u.User, u.Hostname())
	}
	switch u.Scheme {
	case "http", "https", "udp":
	default:
		t.Fatalf("ParseTrackerURL accepted scheme %q in %q", u.Scheme, raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			t.Fatalf("ParseTrackerURL accepted port %q in %q", p, raw)
		}
	} else if u.Scheme == "udp" {
		t.Fatalf("ParseTrackerURL accepted a udp URL without port: %q", raw)
	}
}
