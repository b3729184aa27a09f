package server

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/effusion-bt/effusion/tracker"
)

// net/http lingers up to 500 ms on a connection it refused (431) after
// the server closed; that goroutine is the standard library's, and bounded.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("net/http.(*conn).closeWriteAndWait"))
}

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = "127.0.0.1:0"
	}
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testClient() *tracker.Client {
	return tracker.NewClient(tracker.Options{Timeout: 10 * time.Second, MinInterval: -1, UDPBase: time.Second, UDPRetries: 2})
}

func id(b byte) (h [20]byte) {
	for i := range h {
		h[i] = b
	}
	return h
}

func TestAnnounceFindsEachOther(t *testing.T) {
	s := startServer(t, Config{Interval: 90 * time.Second})
	c := testClient()
	for i, url := range []string{s.AnnounceURL(), s.UDPAnnounceURL()} {
		ih := id(0xaa + byte(i))
		t.Run(url[:4], func(t *testing.T) {
			ctx := context.Background()
			r1, err := c.Announce(ctx, url, tracker.AnnounceRequest{InfoHash: ih, PeerID: id(1), Port: 1001, Left: 0, Event: tracker.EventStarted})
			if err != nil {
				t.Fatal(err)
			}
			if len(r1.Peers) != 0 {
				t.Fatalf("first peer got peers %v", r1.Peers)
			}
			if r1.Interval != 90*time.Second {
				t.Fatalf("interval %v", r1.Interval)
			}
			r2, err := c.Announce(ctx, url, tracker.AnnounceRequest{InfoHash: ih, PeerID: id(2), Port: 1002, Left: 10, Event: tracker.EventStarted})
			if err != nil {
				t.Fatal(err)
			}
			want := netip.MustParseAddrPort("127.0.0.1:1001")
			if !slices.Equal(r2.Peers, []netip.AddrPort{want}) {
				t.Fatalf("peers %v, want %v", r2.Peers, want)
			}
			if r2.Complete != 1 || r2.Incomplete != 1 {
				t.Fatalf("complete %d incomplete %d", r2.Complete, r2.Incomplete)
			}
			st, err := c.Scrape(ctx, url, ih)
			if err != nil {
				t.Fatal(err)
			}
			if st[ih] != (tracker.ScrapeStats{Complete: 1, Incomplete: 1}) {
				t.Fatalf("scrape %+v", st)
			}
			// Completed counts a download; stopped removes the peer.
			if _, err := c.Announce(ctx, url, tracker.AnnounceRequest{InfoHash: ih, PeerID: id(2), Port: 1002, Event: tracker.EventCompleted}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Announce(ctx, url, tracker.AnnounceRequest{InfoHash: ih, PeerID: id(1), Port: 1001, Event: tracker.EventStopped}); err != nil {
				t.Fatal(err)
			}
			comp, inc, dl, ok := s.Stats(ih)
			if !ok || comp != 1 || inc != 0 || dl != 1 {
				t.Fatalf("stats %d %d %d %v", comp, inc, dl, ok)
			}
			ps := s.Peers(ih)
			if len(ps) != 1 || ps[0].ID != id(2) {
				t.Fatalf("peer store %+v", ps)
			}
			if _, err := c.Announce(ctx, url, tracker.AnnounceRequest{InfoHash: ih, PeerID: id(2), Port: 1002, Event: tracker.EventStopped}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadRequestFailureReason(t *testing.T) {
	s := startServer(t, Config{AllowList: [][20]byte{id(7)}})
	c := testClient()
	var fe *tracker.FailureError
	_, err := c.Announce(context.Background(), s.AnnounceURL(), tracker.AnnounceRequest{InfoHash: id(7), PeerID: id(1), Port: 0})
	if !errors.As(err, &fe) || fe.Reason != "invalid port" {
		t.Fatalf("port 0: %v", err)
	}
	_, err = c.Announce(context.Background(), s.AnnounceURL(), tracker.AnnounceRequest{InfoHash: id(8), PeerID: id(1), Port: 5})
	if !errors.As(err, &fe) || fe.Reason != ErrNotAllowed.Error() {
		t.Fatalf("not allowed: %v", err)
	}
	_, err = c.Announce(context.Background(), s.UDPAnnounceURL(), tracker.AnnounceRequest{InfoHash: id(8), PeerID: id(1), Port: 5})
	if !errors.As(err, &fe) || fe.Reason != ErrNotAllowed.Error() {
		t.Fatalf("udp not allowed: %v", err)
	}
}
