package session

import (
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/pex"
	"github.com/effusion-bt/effusion/statem"
	"github.com/effusion-bt/effusion/transport"
)

// Peer exchange (BEP 11): the session tells each peer that speaks ut_pex
// which peers it connected to and lost since (at most once a minute, 50 at
// a time: package pex), and takes the peers others tell it into its address
// book, within caps. Never for a private torrent (BEP 27): the session then
// makes no pex.Swarm and does not advertise ut_pex.

// maxSelfIPs bounds the addresses peers told us we have (their "yourip").
const maxSelfIPs = 16

// newPex makes the torrent's PEX state.
func (srv *server) newPex() {
	srv.pexSwarm = pex.NewSwarm(pex.Config{
		IsSelf: srv.isSelf,
		Banned: func(a netip.Addr) bool { return srv.book.banned(netip.AddrPortFrom(a, 0)) },
	})
}

// isSelf reports whether a is our own listening address as peers see it.
func (srv *server) isSelf(a netip.AddrPort) bool {
	la := srv.listener.Addr()
	if a.Port() != la.Port() {
		return false
	}
	ip := a.Addr().Unmap()
	if ip == la.Addr().Unmap() || la.Addr().IsUnspecified() && ip.IsLoopback() {
		return true
	}
	_, ok := srv.selfIPs[ip]
	return ok
}

// pexConnected tells PEX a peer is connected at addr (where others may
// reach it).
func (srv *server) pexConnected(p *Peer, addr netip.AddrPort) {
	if srv.pexSwarm == nil || !addr.IsValid() || addr.Port() == 0 {
		return
	}
	var flags peerwire.PexFlags
	if p.outgoing {
		flags |= peerwire.PexReachable
	}
	if p.mc != nil {
		flags |= peerwire.PexEncryption
	}
	if p.transport == transport.NameUTP {
		flags |= peerwire.PexUTP
	}
	srv.pexSwarm.Connected(addr, flags)
	p.pexAddr = addr
}

// pexGone tells PEX a peer is gone.
func (srv *server) pexGone(p *Peer) {
	if srv.pexSwarm != nil && p.pexAddr.IsValid() {
		srv.pexSwarm.Disconnected(p.pexAddr)
	}
}

// pexTick sends the PEX messages due (once a second, from tick).
func (srv *server) pexTick() {
	if srv.pexSwarm == nil {
		return
	}
	now := time.Since(srv.start)
	for p := range srv.peers {
		if p.pexConn == nil || p.pexID == 0 {
			continue
		}
		if p.pexConn.Outgoing(now, &srv.pexMsg) {
			id := uint8(p.pexID)
			msg := &srv.pexMsg
			p.queue(func(b []byte) []byte { return peerwire.AppendPex(b, id, msg) })
		}
	}
}

// evPex: a peer's ut_pex message.
type evPex struct {
	p  *Peer
	px *peerwire.Pex
}

func (e evPex) from() *Peer { return e.p }

func (e evPex) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	e.p.handled()
	if _, ok := srv.peers[e.p]; !ok || e.p.pexConn == nil || srv.pexSwarm == nil {
		return srv.keepPhase()
	}
	var err error
	srv.pexTaken, err = e.p.pexConn.Incoming(time.Since(srv.start), e.px, srv.pexTaken[:0])
	if err != nil {
		srv.log.Debug("ignoring a PEX message", "peer", e.p.addr, "err", err)
		return srv.keepPhase()
	}
	for _, pp := range srv.pexTaken {
		srv.book.add(pp.Addr)
		if pp.Flags&peerwire.PexUTP != 0 {
			srv.env.HintUTP(pp.Addr) // dialled over uTP first (transport.Both)
		}
	}
	if len(srv.pexTaken) > 0 {
		srv.log.Debug("peers from PEX", "peer", e.p.addr, "taken", len(srv.pexTaken))
		srv.dialMore()
	}
	return srv.keepPhase()
}
