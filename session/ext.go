package session

import "github.com/effusion-bt/effusion/peerwire"

// extHandshake encodes ours for p: no extension messages yet, our client
// version, queue depth, listening port and the address we see p at.
func (srv *server) extHandshake(p *Peer) []byte {
	h := peerwire.ExtendedHandshake{M: map[string]int{}, V: ClientVersion, Reqq: maxUploadQueue, YourIP: p.addr.Addr()}
	if a := srv.listener.Addr(); a.IsValid() {
		h.P = int(a.Port())
	}
	return h.Marshal()
}

// onExtHandshake takes what we use from the peer's extension handshake
// (parsed, bounded and checked by its reader: one per connection).
func (srv *server) onExtHandshake(p *Peer, h peerwire.ExtendedHandshake) {
	id, ok := srv.peers[p]
	if !ok {
		return
	}
	if h.Reqq > 0 {
		srv.core.PeerReqQ(id, h.Reqq)
	}
	if h.V != "" {
		srv.clients[p] = truncate(h.V, 64)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
