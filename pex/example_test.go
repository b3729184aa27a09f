package pex_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/pex"
)

// We are connected to three peers and tell one of them about the other
// two; a minute later, about the one that left.
func Example() {
	swarm := pex.NewSwarm(pex.Config{})
	a := netip.MustParseAddrPort("192.0.2.1:6881")
	b := netip.MustParseAddrPort("192.0.2.2:6881")
	c := netip.MustParseAddrPort("[2001:db8::3]:51413")
	swarm.Connected(a, peerwire.PexReachable)
	swarm.Connected(b, peerwire.PexSeed|peerwire.PexReachable)
	swarm.Connected(c, peerwire.PexUTP)

	toA := swarm.NewConn(a) // a's handshake announced ut_pex
	var msg peerwire.Pex
	for now := time.Duration(0); now <= 2*time.Minute; now += time.Second {
		if now == 30*time.Second {
			swarm.Disconnected(b)
		}
		if toA.Outgoing(now, &msg) {
			frame := peerwire.AppendPex(nil, 1, &msg) // 1: a's ut_pex id
			fmt.Printf("%v: %d bytes, added %v, dropped %v\n", now, len(frame), msg.Added, msg.Dropped)
		}
	}
	// Output:
	// 0s: 100 bytes, added [{192.0.2.2:6881 18} {[2001:db8::3]:51413 4}], dropped []
	// 1m0s: 79 bytes, added [], dropped [192.0.2.2:6881]
}
