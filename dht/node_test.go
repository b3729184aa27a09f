package dht

import (
	"context"
	"testing"
	"time"
)

// TestAnnounceThenSearch: one node of a loopback DHT announces a port for
// an info-hash; another node's search finds that peer.
func TestAnnounceThenSearch(t *testing.T) {
	c := startCluster(t, 6)
	for i, nd := range c.nodes {
		if nd.Public() {
			t.Fatalf("node %d: loopback bootstrap should select the local policy", i)
		}
	}
	ih := [20]byte{1, 2, 3}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := c.nodes[1].Search(ctx, ih, SearchOptions{AnnouncePort: 51413}); err != nil {
		t.Fatal(err)
	}
	if st := c.nodes[1].Stats(); st.AnnouncesAccepted == 0 {
		t.Fatalf("no announce accepted: %+v", st)
	}
	want := mustAddrPort(t, "127.0.0.1:51413")
	res := searchUntil(t, c.nodes[5], ih, want, 30*time.Second)
	if len(res.Responders) == 0 || res.Tried == 0 {
		t.Fatalf("result lists no nodes: %+v", res)
	}
}
