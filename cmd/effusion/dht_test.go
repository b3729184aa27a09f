package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/dht"
	"github.com/spf13/cobra"
)

func runDHTCmd(ctx context.Context, args ...string) (string, string, int) {
	root := &cobra.Command{Use: "effusion", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newDHTCmd())
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(&errb, "effusion:", err)
	}
	return out.String(), errb.String(), exitCode(err)
}

// loopbackDHT starts n DHT nodes on 127.0.0.1 that know each other.
func loopbackDHT(t *testing.T, n int) ([]*dht.Node, []string) {
	t.Helper()
	var conns []net.PacketConn
	var addrs []string
	for range n {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		addrs = append(addrs, c.LocalAddr().String())
	}
	var nodes []*dht.Node
	for i, c := range conns {
		boot := []string{} // never the public routers
		for j, a := range addrs {
			if j != i {
				boot = append(boot, a)
			}
		}
		nd, err := dht.New(t.Context(), dht.Config{Conn: c, Bootstrap: boot})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
	}
	for _, nd := range nodes {
		nd.WaitBootstrap(t.Context())
	}
	return nodes, addrs
}

func TestDHTPing(t *testing.T) {
	nodes, addrs := loopbackDHT(t, 1)
	out, errs, code := runDHTCmd(t.Context(), "dht", "ping", addrs[0], "--listen", "127.0.0.1:0")
	id := nodes[0].ID()
	if code != 0 || !strings.Contains(out, addrs[0]+" answered in ") || !strings.Contains(out, "node id "+hex.EncodeToString(id[:])) {
		t.Fatalf("code %d out %q err %q", code, out, errs)
	}
}

func TestDHTGetPeers(t *testing.T) {
	nodes, addrs := loopbackDHT(t, 4)
	ih := [20]byte{0xde, 0xad}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := nodes[0].Search(ctx, ih, dht.SearchOptions{AnnouncePort: 7401}); err != nil {
		t.Fatal(err)
	}
	hexIH := hex.EncodeToString(ih[:])
	out, errs, code := runDHTCmd(ctx, "dht", "get-peers", hexIH, "--bootstrap", addrs[1], "--bootstrap", addrs[2], "--announce", "7402")
	if code != 0 || !strings.Contains(out, "peers (1):\n  127.0.0.1:7401\n") || !strings.Contains(out, "nodes asked: ") || !strings.Contains(out, "announced port 7402") {
		t.Fatalf("code %d out %q err %q", code, out, errs)
	}
	for _, a := range addrs[1:3] {
		if !strings.Contains(out, " "+a+"\n") {
			t.Fatalf("answering node %s not listed: %q", a, out)
		}
	}
	// Nothing announced for another info-hash: exit 1.
	out, _, code = runDHTCmd(ctx, "dht", "get-peers", strings.Repeat("ab", 20), "--bootstrap", addrs[1], "--timeout", "10s")
	if code != 1 || !strings.Contains(out, "peers (0):") {
		t.Fatalf("code %d out %q", code, out)
	}
}

func TestDHTBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"dht", "get-peers", "xyz", "--bootstrap", "127.0.0.1:1"},
		{"dht", "get-peers", strings.Repeat("ab", 20), "--bootstrap", "nohost"},
		{"dht", "ping", "nohost"},
		{"dht", "ping", "127.0.0.1:1", "--listen", "bad::addr::"},
	} {
		if _, errs, code := runDHTCmd(t.Context(), args...); code != 2 {
			t.Errorf("%v: code %d %q", args, code, errs)
		}
	}
}
