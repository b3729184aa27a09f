package tracker

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

func TestOpentrackerInterop(t *testing.T) {
	ih := fill(0x5a)
	// Returns once opentracker answers with the whitelist loaded.
	httpURL, udpURL := testpeer.StartOpentracker(t, ih)
	c := NewClient(Options{Timeout: 10 * time.Second, UDPBase: 500 * time.Millisecond, UDPRetries: 3})
	ctx := context.Background()
	for i, u := range []string{httpURL, udpURL} {
		seed := AnnounceRequest{InfoHash: ih, PeerID: fill(byte('a' + 2*i)), Port: uint16(5000 + 10*i), Left: 0, Event: EventStarted}
		leech := AnnounceRequest{InfoHash: ih, PeerID: fill(byte('b' + 2*i)), Port: uint16(5001 + 10*i), Left: 100, Event: EventStarted}
		if _, err := c.Announce(ctx, u, seed); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		r, err := c.Announce(ctx, u, leech)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), seed.Port)
		if !slices.Contains(r.Peers, want) {
			t.Fatalf("%s: peers %v lack the seed %v", u, r.Peers, want)
		}
		if r.Interval < time.Minute || r.Complete < 1 || r.Incomplete < 1 {
			t.Fatalf("%s: %+v", u, r)
		}
		st, err := c.Scrape(ctx, u, ih)
		if err != nil {
			t.Fatalf("%s scrape: %v", u, err)
		}
		if s := st[ih]; s.Complete < 1 || s.Incomplete < 1 {
			t.Fatalf("%s scrape %+v", u, st)
		}
		leech.Event = EventStopped
		if _, err := c.Announce(ctx, u, leech); err != nil {
			t.Fatalf("%s stopped: %v", u, err)
		}
	}
	// A torrent not on the whitelist is refused with a failure reason (HTTP).
	_, err := c.Announce(ctx, httpURL, AnnounceRequest{InfoHash: fill(1), PeerID: fill(2), Port: 1})
	if err == nil {
		t.Fatal("non-whitelisted torrent accepted")
	}
}
