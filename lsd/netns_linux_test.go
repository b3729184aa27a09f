package lsd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

type heard struct {
	ih   [20]byte
	peer netip.AddrPort
}

// TestServiceOverVeth: two hosts (network namespaces joined by a veth
// pair) run a Service each; what one announces, the other hears, over IPv4
// and IPv6, with the announcing host's address and port; neither delivers
// its own announces.
func TestServiceOverVeth(t *testing.T) {
	v := testpeer.VethPair(t, "lsd", 213)
	start := func(ns, ifname string, port uint16, ch chan heard) *Service {
		var s *Service
		testpeer.InNetns(t, ns, func() {
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				t.Fatal(err)
			}
			s, err = New(t.Context(), Config{Port: port, Interface: ifi, Interval: 300 * time.Millisecond, Gap: 100 * time.Millisecond,
				OnPeer: func(ih [20]byte, p netip.AddrPort) { ch <- heard{ih, p} }})
			if err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { s.Close() })
		return s
	}
	chA, chB := make(chan heard, 1000), make(chan heard, 1000)
	a := start(v.NsA, v.IfA, 6881, chA)
	b := start(v.NsB, v.IfB, 6882, chB)
	t.Logf("families joined: %v", a.Stats().Families)
	ih := [20]byte{0xee, 1}
	a.Add(ih)
	b.Add([20]byte{0xee, 2})
	want := map[string]bool{v.A4 + ":6881": false}
	if len(b.Stats().Families) == 2 && len(a.Stats().Families) == 2 {
		// Over IPv6 the source is A's link-local address (with its zone)
		// or v.A6, whichever the kernel picks for the group.
		want["v6"] = false
	}
	timeout := time.After(20 * time.Second)
	for missing := len(want); missing > 0; {
		select {
		case h := <-chB:
			if h.ih != ih {
				t.Fatalf("B heard %x from %v", h.ih, h.peer)
			}
			key := h.peer.String()
			if h.peer.Addr().Is6() && h.peer.Port() == 6881 {
				key = "v6"
			}
			if done, ok := want[key]; ok && !done {
				want[key] = true
				missing--
			}
		case <-timeout:
			t.Fatalf("B heard only %v; stats A %+v B %+v", want, a.Stats(), b.Stats())
		}
	}
	select {
	case h := <-chA:
		if h.ih != ([20]byte{0xee, 2}) || h.peer.Port() != 6882 {
			t.Fatalf("A heard %+v", h)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("A heard nothing: %+v", a.Stats())
	}
	time.Sleep(time.Second)
	if st := a.Stats(); st.Own == 0 || st.Sent == 0 {
		t.Fatalf("A's own announces not looped back and ignored: %+v", st)
	}
}
