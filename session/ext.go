package session

import (
	"net/netip"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/metadata"
	"github.com/effusion-bt/effusion/peerwire"
)

// extHandshake encodes ours for p: the extensions we speak (ut_metadata
// and ut_pex, unless the torrent is private), the metadata size once we
// have it, our client version, queue depth, listening port and the address
// we see p at.
func (srv *server) extHandshake(p *Peer) []byte {
	h := peerwire.ExtendedHandshake{M: map[string]int{}, V: ClientVersion, Reqq: maxUploadQueue, YourIP: p.addr.Addr()}
	if srv.f.metadataOn.Load() {
		h.M["ut_metadata"] = extMetadata
		if srv.mi != nil {
			h.MetadataSize = len(srv.mi.InfoBytes)
		}
	}
	if srv.f.pexOn.Load() {
		h.M["ut_pex"] = extPex
	}
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
		if id != core.NoPeer {
			srv.core.PeerReqQ(id, h.Reqq)
		} else {
			if srv.pendingReqQ == nil {
				srv.pendingReqQ = make(map[*Peer]int)
			}
			srv.pendingReqQ[p] = h.Reqq
		}
	}
	if h.V != "" {
		srv.clients[p] = truncate(h.V, 64)
	}
	if ip := h.YourIP; ip.IsValid() && len(srv.selfIPs) < maxSelfIPs {
		if srv.selfIPs == nil {
			srv.selfIPs = make(map[netip.Addr]struct{})
		}
		srv.selfIPs[ip.Unmap()] = struct{}{}
	}
	p.metaID = h.M["ut_metadata"]
	p.pexID = h.M["ut_pex"]
	switch {
	case srv.fetch != nil && p.metaID != 0 && h.MetadataSize > 0:
		p.mid = srv.fetch.AddPeer(h.MetadataSize)
		srv.metaPeers[p.mid] = p
	case srv.mi != nil && !metadata.CheckSize(h.MetadataSize, len(srv.mi.InfoBytes)):
		srv.log.Debug("dropping peer", "peer", p.addr, "reason", "metadata size differs from ours")
		p.close(&ViolationError{Peer: p.addr, Reason: "metadata size differs from the torrent's"})
		return
	}
	if srv.pexSwarm != nil && p.pexID != 0 {
		p.pexConn = srv.pexSwarm.NewConn(p.addr)
	}
	if !p.outgoing && h.P > 0 && h.P < 1<<16 {
		srv.pexConnected(p, netip.AddrPortFrom(p.addr.Addr(), uint16(h.P)))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
