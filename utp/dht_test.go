package utp

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2"
)

// A real Mainline DHT node (anacrolix/dht) runs on each Socket's
// PacketConn view while uTP connections use the same UDP port: the nodes
// ping each other and a uTP stream crosses at the same time.
func TestDHTSharesTheSocket(t *testing.T) {
	a, b := socketPair(t, Config{})
	var servers []*dht.Server
	for _, s := range []*Socket{a, b} {
		cfg := dht.NewDefaultServerConfig()
		cfg.Conn = s.PacketConn()
		cfg.NoSecurity = true
		cfg.StartingNodes = func() ([]dht.Addr, error) { return nil, nil }
		srv, err := dht.NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, srv)
	}
	defer func() {
		for _, srv := range servers {
			srv.Close()
		}
	}()
	d, acc := connPair(t, a, b)
	defer acc.Close()
	go io.Copy(io.Discard, acc)
	go func() {
		buf := make([]byte, 64<<10)
		for i := 0; i < 100; i++ {
			if _, err := d.Write(buf); err != nil {
				return
			}
		}
		d.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, srv := range servers {
		other := []*Socket{b, a}[i]
		res := srv.Ping(other.Addr().(*net.UDPAddr))
		if res.Err != nil {
			t.Fatalf("node %d ping: %v", i, res.Err)
		}
		_ = ctx
	}
	if a.stats.rxOther.Load() == 0 || b.stats.rxOther.Load() == 0 {
		t.Fatal("no KRPC datagram went through the view")
	}
}
