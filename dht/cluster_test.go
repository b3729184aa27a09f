package dht

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// cluster is a DHT of n in-process nodes on 127.0.0.1, each bootstrapping
// from the first few.
type cluster struct {
	nodes []*Node
	addrs []string
}

func listenLoopback(t testing.TB) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startCluster starts n nodes; extra adds bootstrap addresses (a real peer)
// to each. It waits for every node's first bootstrap.
func startCluster(t testing.TB, n int, extra ...string) *cluster {
	t.Helper()
	conns := make([]net.PacketConn, n)
	c := &cluster{}
	for i := range conns {
		conns[i] = listenLoopback(t)
		c.addrs = append(c.addrs, conns[i].LocalAddr().String())
	}
	seeds := c.addrs[:min(n, 4)]
	for i := range conns {
		var boot []string
		for _, s := range seeds {
			if s != c.addrs[i] {
				boot = append(boot, s)
			}
		}
		boot = append(boot, extra...)
		nd, err := New(t.Context(), Config{Conn: conns[i], Bootstrap: boot})
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(c.close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, nd := range c.nodes {
		if _, err := nd.WaitBootstrap(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (c *cluster) close() {
	for _, nd := range c.nodes {
		nd.Close()
	}
}

func mustAddrPort(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// searchUntil repeats a search from nd until it finds want (or the
// deadline, a guard against a hung test, passes).
func searchUntil(t testing.TB, nd *Node, ih [20]byte, want netip.AddrPort, within time.Duration) SearchResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		res, err := nd.Search(ctx, ih, SearchOptions{})
		for _, p := range res.Peers {
			if p == want {
				return res
			}
		}
		if err != nil {
			t.Fatalf("search did not find %v within %v: %+v (%v)", want, within, res, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}
