package session

import (
	"net/netip"

	"github.com/effusion-bt/effusion/statem"
)

// evPort: a peer's BEP 5 PORT message, the UDP port of its DHT node.
type evPort struct {
	p    *Peer
	port uint16
}

func (e evPort) from() *Peer { return e.p }

// apply hands the node's address to the DHT (Env's OnPort), if any.
func (e evPort) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	e.p.handled()
	if f := srv.env.onPort; f != nil && e.port != 0 {
		if _, ok := srv.peers[e.p]; ok {
			f(netip.AddrPortFrom(e.p.addr.Addr(), e.port))
		}
	}
	return srv.keepPhase()
}
