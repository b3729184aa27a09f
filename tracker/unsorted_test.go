package tracker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
)

// Bodies with keys out of byte order, as some trackers send them. Each is
// refused by the strict decoder, so the tests below cannot pass because the
// input happened to be sorted.
const (
	unsortedAnnounce = "d8:intervali1800e8:completei3e10:incompletei4e" +
		"5:peersld4:porti80e2:ip8:10.1.1.1ee" + // peer dictionary unsorted too
		"12:min intervali60ee"
	duplicateAnnounce = "d8:intervali1800e5:peers0:8:intervali5ee"
	unsortedScrape    = "d5:filesd20:aaaaaaaaaaaaaaaaaaaad10:incompletei3e8:completei1e10:downloadedi2eeee"
)

func TestUnsortedBodiesAreStrictlyInvalid(t *testing.T) {
	for _, b := range []string{unsortedAnnounce, duplicateAnnounce, unsortedScrape} {
		var v any
		if err := bencode.Unmarshal([]byte(b), &v); err == nil {
			t.Fatalf("strict bencode accepts %q: the test input is not unsorted", b)
		}
	}
}

func TestParseAnnounceBodyUnsortedKeys(t *testing.T) {
	r, err := ParseAnnounceBody([]byte(unsortedAnnounce), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Interval != 1800*time.Second || r.MinInterval != time.Minute || r.Complete != 3 || r.Incomplete != 4 ||
		!slices.Equal(r.Peers, []netip.AddrPort{netip.MustParseAddrPort("10.1.1.1:80")}) {
		t.Fatalf("got %+v", r)
	}
	// A repeated key is ambiguous: still refused.
	var pe *ParseError
	if _, err := ParseAnnounceBody([]byte(duplicateAnnounce), 0); !errors.Is(err, ErrBadResponse) || !errors.As(err, &pe) || pe.Field != "body" {
		t.Fatalf("duplicate key: %v", err)
	}
	if _, err := ParseAnnounceBody([]byte("d5:peersld4:porti80e2:ip8:10.1.1.14:porti81eee"), 0); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("duplicate key in a peer: %v", err)
	}
}

func TestParseScrapeBodyUnsortedKeys(t *testing.T) {
	m, err := ParseScrapeBody([]byte(unsortedScrape))
	h := [20]byte([]byte("aaaaaaaaaaaaaaaaaaaa"))
	if err != nil || len(m) != 1 || m[h] != (ScrapeStats{Complete: 1, Downloaded: 2, Incomplete: 3}) {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := ParseScrapeBody([]byte("d5:filesde5:filesdee")); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("duplicate key: %v", err)
	}
}

// TestHTTPAnnounceUnsortedBody runs the whole client against a tracker that
// sends an unsorted body.
func TestHTTPAnnounceUnsortedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(unsortedAnnounce))
	}))
	defer srv.Close()
	r, err := NewClient(Options{}).Announce(context.Background(), srv.URL+"/announce", AnnounceRequest{PeerID: fill('p'), Port: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Complete != 3 || !slices.Equal(r.Peers, []netip.AddrPort{netip.MustParseAddrPort("10.1.1.1:80")}) {
		t.Fatalf("got %+v", r)
	}
}
