package pex

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/effusion-bt/effusion/peerwire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func addrs(l []peerwire.PexPeer) []netip.AddrPort {
	var out []netip.AddrPort
	for _, p := range l {
		out = append(out, p.Addr)
	}
	return out
}

func nth(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 6881)
}

func TestOutgoingDiff(t *testing.T) {
	s := NewSwarm(Config{})
	a, b, c, d := ap("10.0.0.1:1"), ap("10.0.0.2:2"), ap("[2001:db8::3]:3"), ap("10.0.0.4:4")
	s.Connected(a, 0)
	s.Connected(b, peerwire.PexSeed|peerwire.PexReachable)
	s.Connected(c, peerwire.PexUTP)
	conn := s.NewConn(a)
	var m peerwire.Pex
	if !conn.Outgoing(0, &m) {
		t.Fatal("no first message")
	}
	want := []peerwire.PexPeer{{Addr: b, Flags: peerwire.PexSeed | peerwire.PexReachable}, {Addr: c, Flags: peerwire.PexUTP}}
	if !slices.Equal(m.Added, want) || len(m.Dropped) != 0 {
		t.Fatalf("first message %+v", m)
	}
	s.Disconnected(b)
	s.Connected(d, 0)
	if conn.Outgoing(59*time.Second, &m) {
		t.Fatal("a second message within the minute")
	}
	if !conn.Outgoing(60*time.Second, &m) || !slices.Equal(addrs(m.Added), []netip.AddrPort{d}) ||
		!slices.Equal(m.Dropped, []netip.AddrPort{b}) {
		t.Fatalf("diff %+v", m)
	}
	if conn.Outgoing(time.Hour, &m) {
		t.Fatalf("nothing changed, yet %+v", m)
	}
	// A peer that leaves and comes back between two messages is no news.
	s.Disconnected(c)
	s.Connected(c, 0)
	if conn.Outgoing(2*time.Hour, &m) {
		t.Fatalf("reconnect reported: %+v", m)
	}
	// The remote's own address is never told, even when it reconnects.
	s.Disconnected(a)
	s.Connected(a, 0)
	if conn.Outgoing(3*time.Hour, &m) {
		t.Fatalf("told the peer about itself: %+v", m)
	}
	if s.Len() != 3 {
		t.Fatalf("len %d", s.Len())
	}
}

func TestOutgoingCaps(t *testing.T) {
	s := NewSwarm(Config{})
	for i := range 120 {
		s.Connected(nth(i), 0)
	}
	conn := s.NewConn(ap("192.0.2.1:1"))
	var m peerwire.Pex
	var told []netip.AddrPort
	for i, n := range []int{50, 50, 20} {
		if !conn.Outgoing(time.Duration(i)*time.Minute, &m) || len(m.Added) != n || len(m.Dropped) != 0 {
			t.Fatalf("message %d: %d added", i, len(m.Added))
		}
		told = append(told, addrs(m.Added)...)
	}
	if conn.Outgoing(time.Hour, &m) {
		t.Fatal("a fourth message")
	}
	slices.SortFunc(told, netip.AddrPort.Compare)
	if len(slices.Compact(told)) != 120 {
		t.Fatal("some peer told twice or never")
	}
	for i := range 120 {
		s.Disconnected(nth(i))
	}
	var dropped []netip.AddrPort
	for i, n := range []int{50, 50, 20} {
		if !conn.Outgoing(2*time.Hour+time.Duration(i)*time.Minute, &m) || len(m.Dropped) != n || len(m.Added) != 0 {
			t.Fatalf("drop message %d: %d dropped", i, len(m.Dropped))
		}
		dropped = append(dropped, m.Dropped...)
	}
	if !slices.IsSortedFunc(dropped, netip.AddrPort.Compare) || len(dropped) != 120 {
		t.Fatal("dropped not in a deterministic order, or not all")
	}
}

func TestSwarmAddresses(t *testing.T) {
	s := NewSwarm(Config{})
	s.Connected(ap("[::ffff:1.2.3.4]:5"), 0)
	s.Connected(ap("1.2.3.4:5"), peerwire.PexSeed) // same peer: flags updated
	s.Connected(ap("1.2.3.4:0"), 0)                // no port: ignored
	s.Connected(netip.AddrPort{}, 0)
	if s.Len() != 1 || s.list[0].addr != ap("1.2.3.4:5") || s.list[0].flags != peerwire.PexSeed {
		t.Fatalf("%+v", s.list)
	}
	s.Disconnected(ap("[::ffff:1.2.3.4]:5"))
	s.Disconnected(ap("9.9.9.9:9")) // unknown: ignored
	if s.Len() != 0 {
		t.Fatal("mapped address not removed")
	}
}

func TestIncomingFilters(t *testing.T) {
	self := ap("203.0.113.7:6881")
	s := NewSwarm(Config{
		IsSelf: func(a netip.AddrPort) bool { return a == self },
		Banned: func(a netip.Addr) bool { return a == netip.MustParseAddr("198.51.100.9") },
	})
	remote := ap("10.0.0.1:1")
	conn := s.NewConn(remote)
	good := []peerwire.PexPeer{
		{Addr: ap("10.0.0.2:2"), Flags: peerwire.PexSeed},
		{Addr: ap("127.0.0.1:3")},
		{Addr: ap("[2001:db8::4]:4"), Flags: peerwire.PexUTP},
	}
	m := &peerwire.Pex{Added: []peerwire.PexPeer{
		good[0],
		{Addr: self},
		{Addr: ap("198.51.100.9:80")},
		{Addr: remote},
		{Addr: ap("10.0.0.5:0")},
		{Addr: ap("0.0.0.0:5")},
		{Addr: ap("[::]:5")},
		{Addr: ap("224.0.0.1:5")},
		{Addr: ap("[ff02::1]:5")},
		{Addr: ap("255.255.255.255:5")},
		{Addr: ap("169.254.1.1:5")},
		{Addr: ap("[fe80::1]:5")},
		{},
		good[1],
		{Addr: ap("10.0.0.2:2")}, // duplicate
		good[2],
		{Addr: ap("[::ffff:10.0.0.2]:2")}, // duplicate, mapped
	}, Dropped: []netip.AddrPort{ap("10.9.9.9:9")}}
	got, err := conn.Incoming(0, m, nil)
	if err != nil || !slices.Equal(got, good) {
		t.Fatalf("%v\n%+v", err, got)
	}
}

func TestIncomingCaps(t *testing.T) {
	s := NewSwarm(Config{MaxTake: 30, MaxTakePerWindow: 70, Window: 10 * time.Minute})
	conn := s.NewConn(ap("192.0.2.1:1"))
	m := &peerwire.Pex{}
	for i := range 100 {
		m.Added = append(m.Added, peerwire.PexPeer{Addr: nth(i)})
	}
	var total []int
	for i := range 4 {
		got, err := conn.Incoming(time.Duration(i)*time.Minute, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		total = append(total, len(got))
	}
	if !slices.Equal(total, []int{30, 30, 10, 0}) {
		t.Fatalf("taken per message %v", total)
	}
	if got, _ := conn.Incoming(10*time.Minute, m, nil); len(got) != 30 {
		t.Fatalf("new window: %d", len(got))
	}
	// dst is appended to.
	prev := []peerwire.PexPeer{{Addr: nth(0)}}
	got, _ := conn.Incoming(20*time.Minute, &peerwire.Pex{Added: m.Added[:2]}, prev)
	if len(got) != 3 {
		t.Fatalf("appended %v", got)
	}
}

func TestIncomingFlood(t *testing.T) {
	s := NewSwarm(Config{})
	conn := s.NewConn(ap("192.0.2.1:1"))
	m := &peerwire.Pex{Added: []peerwire.PexPeer{{Addr: nth(1)}}}
	for i, at := range []time.Duration{0, time.Second, 2 * time.Second} {
		if _, err := conn.Incoming(at, m, nil); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	for _, at := range []time.Duration{3 * time.Second, 59 * time.Second} {
		if got, err := conn.Incoming(at, m, nil); !errors.Is(err, ErrTooFrequent) || len(got) != 0 {
			t.Fatalf("flood at %v: %v %v", at, got, err)
		}
	}
	if _, err := conn.Incoming(60*time.Second, m, nil); err != nil {
		t.Fatalf("a minute after the first: %v", err)
	}
	if _, err := conn.Incoming(61*time.Second, m, nil); err != nil {
		t.Fatalf("a minute after the second: %v", err)
	}
	if _, err := conn.Incoming(61*time.Second+time.Millisecond, m, nil); !errors.Is(err, ErrTooFrequent) {
		t.Fatal("third within the minute taken")
	}
	// Once a minute is never a flood.
	conn = s.NewConn(ap("192.0.2.1:1"))
	for i := range 100 {
		if _, err := conn.Incoming(time.Duration(i)*time.Minute, m, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// Two swarms exchange PEX through the wire codec.
func TestThroughTheCodec(t *testing.T) {
	alice := NewSwarm(Config{})
	for i := range 5 {
		alice.Connected(nth(i), peerwire.PexFlags(i))
	}
	bobAddr := ap("192.0.2.2:6881")
	alice.Connected(bobAddr, 0)
	toBob := alice.NewConn(bobAddr)
	bob := NewSwarm(Config{IsSelf: func(a netip.AddrPort) bool { return a == bobAddr }})
	fromAlice := bob.NewConn(ap("192.0.2.1:6881"))
	var out, in peerwire.Pex
	if !toBob.Outgoing(0, &out) {
		t.Fatal("nothing to send")
	}
	frame := peerwire.AppendPex(nil, 3, &out)
	if err := peerwire.ParsePex(frame[6:], &in); err != nil {
		t.Fatal(err)
	}
	got, err := fromAlice.Incoming(0, &in, nil)
	if err != nil || len(got) != 5 {
		t.Fatalf("%v %v", got, err)
	}
	for i, p := range got {
		if p.Addr != nth(i) || p.Flags != peerwire.PexFlags(i) {
			t.Fatalf("peer %d: %+v", i, p)
		}
	}
}

// A Conn that has nothing to tell costs no allocation.
func TestOutgoingIdleAllocs(t *testing.T) {
	s := NewSwarm(Config{})
	for i := range 100 {
		s.Connected(nth(i), 0)
	}
	conn := s.NewConn(nth(0))
	var m peerwire.Pex
	for i := 0; conn.Outgoing(time.Duration(i)*time.Minute, &m); i++ {
	}
	now := time.Hour
	if n := testing.AllocsPerRun(100, func() {
		now += time.Second
		if conn.Outgoing(now, &m) {
			t.Fatal("message")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
