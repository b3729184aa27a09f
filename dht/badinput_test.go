package dht

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
)

// client is a raw KRPC socket for talking to a node by hand.
type client struct {
	t    testing.TB
	conn net.PacketConn
	to   net.Addr
}

func newClient(t testing.TB, ip string, to netip.AddrPort) *client {
	t.Helper()
	c, err := net.ListenPacket("udp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, to: net.UDPAddrFromAddrPort(to)}
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if _, err := c.conn.WriteTo(b, c.to); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) send(m map[string]any) {
	c.t.Helper()
	b, err := bencode.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

// recv waits up to d for an answer (nil when none came). Queries the node
// sends us (it adds every querier to its table) are skipped.
func (c *client) recv(d time.Duration) map[string]any {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 65536)
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil
			}
			c.t.Fatal(err)
		}
		var m map[string]any
		if err := bencode.UnmarshalLimits(buf[:n], &m, bencode.Limits{AllowUnsorted: true}); err != nil {
			c.t.Fatalf("undecodable answer %q: %v", buf[:n], err)
		}
		if m["y"] != "q" {
			return m
		}
	}
}

var clientID = string(bytes.Repeat([]byte("c"), 20))

func query(t, q string, args map[string]any) map[string]any {
	if args == nil {
		args = map[string]any{}
	}
	if _, ok := args["id"]; !ok {
		args["id"] = clientID
	}
	return map[string]any{"t": t, "y": "q", "q": q, "a": args}
}

// pingOK asserts that the node answers a ping from a fresh socket.
func pingOK(t testing.TB, to netip.AddrPort) {
	t.Helper()
	c := newClient(t, "127.0.0.1", to)
	for range 3 {
		c.send(query("pp", "ping", nil))
		if m := c.recv(2 * time.Second); m != nil {
			if m["y"] != "r" || m["t"] != "pp" {
				t.Fatalf("ping answered with %v", m)
			}
			return
		}
	}
	t.Fatal("the node no longer answers ping")
}

func startLone(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.Conn == nil {
		cfg.Conn = listenLoopback(t)
	}
	if cfg.Bootstrap == nil {
		cfg.Bootstrap = []string{}
	}
	if cfg.AddrPolicy == AddrPolicyAuto {
		cfg.AddrPolicy = AddrPolicyLocal
	}
	nd, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Close() })
	return nd
}

// TestLibraryCrashersDropped sends datagrams that make anacrolix/dht
// v2.23.0 panic (nil argument dictionaries, short compact addresses) and
// other garbage: the filter drops them all and the node keeps answering.
func TestLibraryCrashersDropped(t *testing.T) {
	nd := startLone(t, Config{})
	c := newClient(t, "127.0.0.1", nd.Addr())
	bad := [][]byte{
		[]byte("d1:q13:announce_peer1:t2:aa1:y1:qe"),
		[]byte("d1:q3:put1:t2:aa1:y1:qe"),
		[]byte("d1:rd2:id20:abcdefghij01234567896:valuesl1:xee1:t2:aa1:y1:re"),
		[]byte("d2:ip1:x1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re"),
		[]byte("d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re"),
		[]byte("d1:q4:ping1:t2:aa1:y1:qe"),
		[]byte("garbage"),
		[]byte("d"),
		[]byte("d1:ad2:id20:abcdefghij0123456789e1:q3:get1:t2:aa1:y1:qe"),
		append([]byte("d1:t"), bytes.Repeat([]byte("x"), 60000)...), // huge
		[]byte(string(bytes.Repeat([]byte("l"), 100)) + "e"),
	}
	for _, b := range bad {
		c.sendRaw(b)
	}
	pingOK(t, nd.Addr())
	d := nd.Stats().Dropped
	if d["malformed"] < 8 || d["too_big"] < 1 || d["unsupported"] < 2 {
		t.Fatalf("drops %v", d)
	}
}

// TestTokenFromOtherAddress: a token that 127.0.0.1 got is refused from
// 127.0.0.2, and accepted from its owner.
func TestTokenFromOtherAddress(t *testing.T) {
	nd := startLone(t, Config{})
	ih := string(bytes.Repeat([]byte{7}, 20))
	a := newClient(t, "127.0.0.1", nd.Addr())
	a.send(query("g1", "get_peers", map[string]any{"info_hash": ih}))
	m := a.recv(5 * time.Second)
	r, _ := m["r"].(map[string]any)
	tok, _ := r["token"].(string)
	if tok == "" {
		t.Fatalf("get_peers answer without token: %v", m)
	}
	b := newClient(t, "127.0.0.2", nd.Addr())
	b.send(query("a1", "announce_peer", map[string]any{"info_hash": ih, "token": tok, "port": int64(6000)}))
	if m := b.recv(500 * time.Millisecond); m != nil {
		t.Fatalf("announce with another address's token answered: %v", m)
	}
	if p := nd.PeerStore().Peers([20]byte([]byte(ih))); len(p) != 0 {
		t.Fatalf("stored %v from a stolen token", p)
	}
	a.send(query("a2", "announce_peer", map[string]any{"info_hash": ih, "token": tok, "port": int64(6000)}))
	if m := a.recv(5 * time.Second); m == nil || m["y"] != "r" {
		t.Fatalf("owner's announce: %v", m)
	}
	want := netip.MustParseAddrPort("127.0.0.1:6000")
	deadline := time.Now().Add(5 * time.Second)
	for { // the library stores on its own goroutine
		if p := nd.PeerStore().Peers([20]byte([]byte(ih))); len(p) == 1 && p[0] == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("announce not stored: %v", nd.PeerStore().Peers([20]byte([]byte(ih))))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAnnounceFlood: thousands of valid announces from one source are
// rate-limited, the store stays within its bounds, and the node answers
// others throughout.
func TestAnnounceFlood(t *testing.T) {
	store := NewPeerStore(PeerStoreConfig{PeersPerInfoHash: 20, MaxInfoHashes: 5})
	nd := startLone(t, Config{PeerStore: store})
	a := newClient(t, "127.0.0.1", nd.Addr())
	a.send(query("g1", "get_peers", map[string]any{"info_hash": string(bytes.Repeat([]byte{1}, 20))}))
	m := a.recv(5 * time.Second)
	if m == nil {
		t.Fatalf("no answer: %+v", nd.Stats())
	}
	tok := m["r"].(map[string]any)["token"].(string)
	for i := range 3000 {
		ih := bytes.Repeat([]byte{byte(i % 50)}, 20)
		a.send(query("f", "announce_peer", map[string]any{"info_hash": string(ih), "token": tok, "port": int64(1000 + i)}))
	}
	pingOK(t, nd.Addr())
	st := nd.Stats()
	if st.Dropped["rate"] == 0 {
		t.Fatalf("no datagram rate-limited: %+v", st)
	}
	if st.PeerStore.InfoHashes > 5 || st.PeerStore.Peers > 5*20 {
		t.Fatalf("store past its bounds: %+v", st.PeerStore)
	}
}

// TestPublicPolicy: on the public DHT, datagrams from local addresses are
// dropped and local nodes are never contacted.
func TestPublicPolicy(t *testing.T) {
	nd := startLone(t, Config{AddrPolicy: AddrPolicyPublic})
	if !nd.Public() {
		t.Fatal("policy not public")
	}
	c := newClient(t, "127.0.0.1", nd.Addr())
	c.send(query("pp", "ping", nil))
	if m := c.recv(500 * time.Millisecond); m != nil {
		t.Fatalf("answered a loopback source: %v", m)
	}
	if nd.Stats().Dropped["source"] == 0 {
		t.Fatal("drop not counted")
	}
	for _, s := range []string{"127.0.0.1:6881", "10.1.2.3:6881", "192.168.1.1:6881", "[::1]:6881", "100.64.0.1:1"} {
		if err := nd.AddNode(netip.MustParseAddrPort(s)); !errors.Is(err, ErrAddrRefused) {
			t.Fatalf("AddNode(%s) = %v", s, err)
		}
		if _, err := nd.Ping(t.Context(), netip.MustParseAddrPort(s)); !errors.Is(err, ErrAddrRefused) {
			t.Fatalf("Ping(%s) = %v", s, err)
		}
	}
	if _, ok := (localRanges{}).Lookup(net.ParseIP("192.168.0.1")); !ok {
		t.Fatal("blocklist misses a private address")
	}
	if _, ok := (localRanges{}).Lookup(net.ParseIP("8.8.8.8")); ok {
		t.Fatal("blocklist holds a global address")
	}
}

func TestIsLocal(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "10.0.0.1": true, "172.16.0.1": true, "192.168.0.1": true, "169.254.1.1": true,
		"100.64.1.1": true, "0.1.2.3": true, "224.0.0.1": true, "240.0.0.1": true, "::1": true, "fe80::1": true,
		"fd00::1": true, "::ffff:10.0.0.1": true, "2001:db8::1": true, "::": true,
		"8.8.8.8": false, "1.1.1.1": false, "2a00:1450::1": false, "::ffff:8.8.8.8": false,
	} {
		if got := IsLocal(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsLocal(%s) = %v", s, got)
		}
	}
}

func TestBadBootstrap(t *testing.T) {
	for _, b := range []string{"nohost", "host:", ":6881", "host:0", "host:70000", "host:x"} {
		_, err := New(t.Context(), Config{Bootstrap: []string{b}, Listen: "127.0.0.1:0"})
		if !errors.Is(err, ErrBadBootstrap) {
			t.Errorf("%q: %v", b, err)
		}
	}
}
