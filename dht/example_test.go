package dht_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/effusion-bt/effusion/dht"
)

// Three nodes on loopback: one announces a peer port for an info-hash,
// another searches for it.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conns []net.PacketConn
	var addrs []string
	for range 3 {
		c, _ := net.ListenPacket("udp4", "127.0.0.1:0")
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().String())
	}
	var nodes []*dht.Node
	for _, c := range conns {
		n, err := dht.New(ctx, dht.Config{Conn: c, Bootstrap: addrs}) // loopback routers: the local policy
		if err != nil {
			panic(err)
		}
		defer n.Close()
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.WaitBootstrap(ctx)
	}

	ih := [20]byte{1, 2, 3}
	nodes[0].Search(ctx, ih, dht.SearchOptions{AnnouncePort: 6881}) // get_peers, then announce_peer
	for ctx.Err() == nil {
		// The nodes store announces on their own goroutines: ask until it is there.
		res, _ := nodes[2].Search(ctx, ih, dht.SearchOptions{})
		if len(res.Peers) > 0 {
			fmt.Println(res.Peers)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Output: [127.0.0.1:6881]
}
