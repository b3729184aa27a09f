package pex

import (
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// FuzzIncoming feeds arbitrary ut_pex payloads through the codec and
// Conn.Incoming. Properties: no panic; what is taken is usable, neither
// ours, nor banned, nor the sender, without duplicates, within MaxTake.
func FuzzIncoming(f *testing.F) {
	var m peerwire.Pex
	for i := range 60 {
		m.Added = append(m.Added, peerwire.PexPeer{Addr: nth(i % 40), Flags: peerwire.PexFlags(i)})
	}
	m.Added = append(m.Added, peerwire.PexPeer{Addr: ap("203.0.113.7:6881")}, peerwire.PexPeer{Addr: ap("[2001:db8::1]:0")})
	f.Add(peerwire.AppendPex(nil, 1, &m)[6:])
	f.Add([]byte("d5:added6:\x7f\x00\x00\x01\x1a\xe1e"))
	f.Add([]byte("d5:added12:\xcb\x00\x71\x07\x1a\xe1\xc6\x33\x64\x09\x00\x507:added.f2:\x02\x02e"))
	self := ap("203.0.113.7:6881")
	banned := netip.MustParseAddr("198.51.100.9")
	remote := nth(3)
	f.Fuzz(func(t *testing.T, payload []byte) {
		var m peerwire.Pex
		if peerwire.ParsePex(payload, &m) != nil {
			return
		}
		s := NewSwarm(Config{MaxTake: 20,
			IsSelf: func(a netip.AddrPort) bool { return a == self },
			Banned: func(a netip.Addr) bool { return a == banned }})
		conn := s.NewConn(remote)
		got, err := conn.Incoming(0, &m, nil)
		if err != nil || len(got) > 20 {
			t.Fatalf("%d taken, %v", len(got), err)
		}
		seen := map[netip.AddrPort]bool{}
		for _, p := range got {
			if !usable(p.Addr) || p.Addr == self || p.Addr.Addr() == banned || p.Addr == remote || seen[p.Addr] || p.Addr.Addr().Is4In6() {
				t.Fatalf("took %v", p.Addr)
			}
			seen[p.Addr] = true
		}
	})
}

// FuzzSwarm drives a Swarm and one Conn with arbitrary connects,
// disconnects and clock steps, and plays the remote peer, which applies
// every message to its view of our connections. Properties: messages keep
// to the caps and to one per Interval; a message never adds a peer the
// remote already knows, nor the remote itself, nor drops one it does not
// know; once changes stop, the remote's view converges to our
// connections minus itself.
func FuzzSwarm(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 2, 60, 1, 1, 2, 60})
	f.Add([]byte{0, 3, 0, 4, 0, 5, 1, 3, 0, 3, 2, 255, 2, 255})
	f.Fuzz(func(t *testing.T, ops []byte) {
		cfg := Config{MaxAdded: 3, MaxDropped: 2}
		s := NewSwarm(cfg)
		remote := nth(0)
		conn := s.NewConn(remote)
		view := map[netip.AddrPort]bool{}
		var now, last time.Duration = 0, -time.Hour
		var m peerwire.Pex
		send := func() {
			if !conn.Outgoing(now, &m) {
				return
			}
			if now-last < time.Minute || len(m.Added) > 3 || len(m.Dropped) > 2 || len(m.Added)+len(m.Dropped) == 0 {
				t.Fatalf("at %v (last %v): %+v", now, last, m)
			}
			last = now
			for _, p := range m.Added {
				if view[p.Addr] || p.Addr == remote {
					t.Fatalf("added %v again", p.Addr)
				}
				view[p.Addr] = true
			}
			for _, a := range m.Dropped {
				if !view[a] {
					t.Fatalf("dropped unknown %v", a)
				}
				delete(view, a)
			}
		}
		for i := 0; i+1 < len(ops); i += 2 {
			a := nth(int(ops[i+1] % 16))
			switch ops[i] % 3 {
			case 0:
				s.Connected(a, peerwire.PexFlags(ops[i+1]))
			case 1:
				s.Disconnected(a)
			case 2:
				now += time.Duration(ops[i+1]) * time.Second
			}
			send()
		}
		for range 20 { // quiescence: everything gets told
			now += time.Minute
			send()
		}
		want := 0
		for _, e := range s.list {
			if e.addr != remote {
				want++
				if !view[e.addr] {
					t.Fatalf("%v never told", e.addr)
				}
			}
		}
		if len(view) != want {
			t.Fatalf("remote knows %d peers, we have %d", len(view), want)
		}
	})
}
