package dht

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestPeerStoreKeysByAddressAndPort(t *testing.T) {
	ps := NewPeerStore(PeerStoreConfig{})
	ih := [20]byte{1}
	a := netip.MustParseAddrPort("10.0.0.1:1000")
	b := netip.MustParseAddrPort("10.0.0.1:2000") // same IP, another port: another peer
	c := netip.MustParseAddrPort("[2001:db8::1]:3000")
	for _, p := range []netip.AddrPort{a, b, c, a} {
		if !ps.Add(ih, p) {
			t.Fatalf("refused %v", p)
		}
	}
	if got := ps.Peers(ih); len(got) != 3 {
		t.Fatalf("peers %v", got)
	}
	// Through the library's interface, IPv4 as 16 bytes included.
	ps.AddPeer(ih, krpc.NodeAddr{IP: net.ParseIP("10.0.0.2"), Port: 4000})
	got := ps.GetPeers(ih)
	if len(got) != 4 {
		t.Fatalf("GetPeers %v", got)
	}
	for _, na := range got {
		if na.Port == 0 || (len(na.IP) != 4 && len(na.IP) != 16) {
			t.Fatalf("bad address %v", na)
		}
	}
	if ps.Stats() != (PeerStoreStats{InfoHashes: 1, Peers: 4}) {
		t.Fatalf("stats %+v", ps.Stats())
	}
}

func TestPeerStoreRefusesUnusable(t *testing.T) {
	ps := NewPeerStore(PeerStoreConfig{})
	ih := [20]byte{1}
	for _, na := range []krpc.NodeAddr{
		{IP: net.ParseIP("10.0.0.1"), Port: 0},
		{IP: net.ParseIP("10.0.0.1"), Port: -1},
		{IP: net.ParseIP("10.0.0.1"), Port: 65536},
		{IP: net.IP{1, 2, 3}, Port: 1},
		{IP: nil, Port: 1},
		{IP: net.ParseIP("0.0.0.0"), Port: 1},
		{IP: net.ParseIP("224.0.0.1"), Port: 1},
		{IP: net.ParseIP("::"), Port: 1},
	} {
		ps.AddPeer(ih, na)
	}
	if st := ps.Stats(); st.Peers != 0 || st.Refused != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPeerStoreBounds(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	ps := NewPeerStore(PeerStoreConfig{PeersPerInfoHash: 3, MaxInfoHashes: 2, PeersPerReply: 2, Now: clk.now})
	ih1, ih2, ih3 := [20]byte{1}, [20]byte{2}, [20]byte{3}
	for i := range 5 {
		ps.Add(ih1, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(1000+i)))
		clk.advance(time.Second)
	}
	if st := ps.Stats(); st.Peers != 3 {
		t.Fatalf("per-info-hash cap: %+v", st)
	}
	// The newest three were kept (the oldest were replaced); a reply holds 2.
	if got := ps.Peers(ih1); len(got) != 2 {
		t.Fatalf("reply cap: %v", got)
	}
	for _, p := range ps.GetPeers(ih1) {
		if p.Port < 1002 {
			t.Fatalf("kept an old peer %v", p)
		}
	}
	ps.Add(ih2, netip.MustParseAddrPort("10.0.0.2:1"))
	if ps.Add(ih3, netip.MustParseAddrPort("10.0.0.3:1")) {
		t.Fatal("a third info-hash was stored in a store of two")
	}
	// After the TTL, everything expires and room is made.
	clk.advance(DefaultPeerTTL + time.Minute)
	if got := ps.Peers(ih1); len(got) != 0 {
		t.Fatalf("expired peers served: %v", got)
	}
	if !ps.Add(ih3, netip.MustParseAddrPort("10.0.0.3:1")) {
		t.Fatal("no room after expiry")
	}
	ps.Purge()
	if st := ps.Stats(); st.InfoHashes != 1 || st.Peers != 1 {
		t.Fatalf("after purge %+v", st)
	}
}

// TestPeerStoreRenewal: re-announcing refreshes a peer's expiry.
func TestPeerStoreRenewal(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	ps := NewPeerStore(PeerStoreConfig{Now: clk.now})
	ih, p := [20]byte{1}, netip.MustParseAddrPort("10.0.0.1:1")
	ps.Add(ih, p)
	clk.advance(20 * time.Minute)
	ps.Add(ih, p)
	clk.advance(20 * time.Minute)
	if got := ps.Peers(ih); len(got) != 1 {
		t.Fatalf("renewed peer expired: %v", got)
	}
	clk.advance(11 * time.Minute)
	if got := ps.Peers(ih); len(got) != 0 {
		t.Fatalf("peer outlived its TTL: %v", got)
	}
}

func BenchmarkPeerStoreAdd(b *testing.B) {
	ps := NewPeerStore(PeerStoreConfig{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ps.Add([20]byte{byte(i % 200)}, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 6881))
	}
}
