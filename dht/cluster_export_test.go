package dht

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestStartCluster: a local DHT of a few nodes bootstraps; what one node
// announces another finds. Sizes out of bounds are refused.
func TestStartCluster(t *testing.T) {
	for _, n := range []int{0, MaxClusterNodes + 1} {
		if _, err := StartCluster(t.Context(), n, "127.0.0.1"); err == nil {
			t.Fatalf("a cluster of %d nodes", n)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl, err := StartCluster(ctx, 5, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if len(cl.Addrs()) != 5 || strings.Count(cl.Bootstrap(), ",") != 3 {
		t.Fatalf("addrs %v, bootstrap %q", cl.Addrs(), cl.Bootstrap())
	}
	ih := [20]byte{0xc1}
	if _, err := cl.Nodes[0].Search(ctx, ih, SearchOptions{AnnouncePort: 7501}); err != nil {
		t.Fatal(err)
	}
	searchUntil(t, cl.Nodes[4], ih, mustAddrPort(t, "127.0.0.1:7501"), 30*time.Second)
}
