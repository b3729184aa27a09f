package session

import (
	"net/netip"

	"github.com/effusion-bt/effusion/peerwire"
)

// DHT is the process's DHT node as the peer wire uses it (BEP 5): with
// one, our handshake sets the DHT bit, peers that set it too get a PORT
// message with our node's port, and the nodes peers announce in theirs are
// handed to AddNode. Private torrents (BEP 27) do none of this. The client
// adapts its *dht.Node to it (EnvConfig.DHT).
type DHT interface {
	// Port returns our node's UDP port.
	Port() uint16
	// AddNode is given a peer's DHT node (the peer's IP, the port of its
	// PORT message). It must not block; it is called from the peer's
	// reader.
	AddNode(netip.AddrPort) error
}

// dhtFor is the DHT a torrent uses: the environment's, unless the torrent
// is private.
func (srv *server) dhtFor() DHT {
	if srv.cfg.Torrent.Info.Private {
		return nil
	}
	return srv.env.dht
}

// sendPort queues our PORT message for a peer that set the DHT bit, after
// the greeting (BEP 3 wants the bitfield first).
func (srv *server) sendPort(p *Peer) {
	if d := srv.f.dht; d != nil && p.remote.SupportsDHT() {
		if port := d.Port(); port != 0 {
			p.queue(func(b []byte) []byte { return peerwire.AppendPort(b, port) })
		}
	}
}

// onPort hands the node of a peer's PORT message to the DHT: the first one
// of the connection only (a peer has one node; more would make us ping
// on its behalf), port 0 never, and nothing when the torrent has no DHT.
// Runs on the peer's reader.
func (p *Peer) onPort(port uint16) {
	d := p.f.dht
	if d == nil || port == 0 || p.portSeen {
		return
	}
	p.portSeen = true
	_ = d.AddNode(netip.AddrPortFrom(p.addr.Addr(), port)) // refused or busy: dropped
}
