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

// apply hands the node's address to the DHT (Env's OnPort), if any: the
// first PORT of a connection only (a peer has one node; more would make
// us ping on its behalf), never port 0, and never for a private torrent
// (BEP 27).
func (e evPort) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	e.p.handled()
	if f := srv.env.onPort; f != nil && e.port != 0 && srv.f.dhtOn.Load() && !e.p.portSeen {
		if _, ok := srv.peers[e.p]; ok {
			e.p.portSeen = true
			f(netip.AddrPortFrom(e.p.addr.Addr(), e.port))
		}
	}
	return srv.keepPhase()
}
