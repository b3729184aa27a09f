package dht

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// MaxClusterNodes bounds StartCluster.
const MaxClusterNodes = 1000

// Cluster is a DHT of in-process nodes on one local address: a whole DHT
// for a demo or a test that must not reach the internet (the trackerless
// "effusion swarm --dht", interop tests that bring libtorrent into it).
// Peers join it by bootstrapping from Addrs.
type Cluster struct {
	Nodes []*Node
}

// StartCluster starts n nodes (1..MaxClusterNodes) on UDP ports of ip (a
// loopback or other local address, e.g. "127.0.0.1"), each bootstrapping
// from the first four, and waits for every node's first bootstrap (or
// ctx). On error every node started is closed.
func StartCluster(ctx context.Context, n int, ip string) (*Cluster, error) {
	if n < 1 || n > MaxClusterNodes {
		return nil, fmt.Errorf("dht: a cluster of %d nodes: want 1..%d", n, MaxClusterNodes)
	}
	conns := make([]net.PacketConn, 0, n)
	var addrs []string
	for range n {
		c, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("dht: cluster: %w", err)
		}
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().String())
	}
	seeds := addrs[:min(n, 4)]
	cl := &Cluster{}
	for i, c := range conns {
		boot := []string{}
		for _, s := range seeds {
			if s != addrs[i] {
				boot = append(boot, s)
			}
		}
		nd, err := New(ctx, Config{Conn: c, Bootstrap: boot, AddrPolicy: AddrPolicyLocal})
		if err != nil {
			for _, c := range conns[i:] {
				c.Close()
			}
			cl.Close()
			return nil, err
		}
		cl.Nodes = append(cl.Nodes, nd)
	}
	for _, nd := range cl.Nodes {
		if _, err := nd.WaitBootstrap(ctx); err != nil {
			cl.Close()
			return nil, err
		}
	}
	return cl, nil
}

// Addrs returns the nodes' addresses (HOST:PORT), in start order.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		out[i] = nd.Addr().String()
	}
	return out
}

// Bootstrap returns the first few addresses, comma-separated: what a peer
// joining the cluster is given.
func (c *Cluster) Bootstrap() string {
	a := c.Addrs()
	return strings.Join(a[:min(len(a), 4)], ",")
}

// Close closes every node.
func (c *Cluster) Close() error {
	var err error
	for _, nd := range c.Nodes {
		err = errors.Join(err, nd.Close())
	}
	return err
}
