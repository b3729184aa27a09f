package pex

import (
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// BenchmarkOutgoingChurn: a swarm of 200 peers where 5 leave and 5 arrive
// between two messages; one Conn computes its diff (5 added, 5 dropped).
func BenchmarkOutgoingChurn(b *testing.B) {
	s := NewSwarm(Config{})
	for i := range 200 {
		s.Connected(nth(i), 0)
	}
	conn := s.NewConn(netip.MustParseAddrPort("192.0.2.1:1"))
	var m peerwire.Pex
	now := time.Duration(0)
	for conn.Outgoing(now, &m) {
		now += time.Minute
	}
	next := 200
	b.ReportAllocs()
	for b.Loop() {
		for range 5 {
			s.Disconnected(nth(next - 200))
			s.Connected(nth(next), 0)
			next++
		}
		now += time.Minute
		if !conn.Outgoing(now, &m) || len(m.Added) != 5 || len(m.Dropped) != 5 {
			b.Fatalf("%+v", m)
		}
	}
}

// BenchmarkIncoming takes 50 peers from a message.
func BenchmarkIncoming(b *testing.B) {
	s := NewSwarm(Config{FloodMessages: 16})
	conn := s.NewConn(netip.MustParseAddrPort("192.0.2.1:1"))
	var m peerwire.Pex
	for i := range 50 {
		m.Added = append(m.Added, peerwire.PexPeer{Addr: nth(i)})
	}
	dst := make([]peerwire.PexPeer, 0, 64)
	now := time.Duration(0)
	b.ReportAllocs()
	for b.Loop() {
		now += 10 * time.Minute
		var err error
		if dst, err = conn.Incoming(now, &m, dst[:0]); err != nil || len(dst) != 50 {
			b.Fatal(err)
		}
	}
}
