package session

import (
	"fmt"
	"net/netip"

	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/statem"
)

// event is what the session's mailbox carries: each kind applies itself to
// the server, in a phase other than Stopped and Failed. Every cast goes
// through Session.post, which takes an event, so the compiler sees to it
// that nothing else arrives.
type event interface {
	apply(srv *server, ph Phase) statem.Result[Phase, *server]
}

// peerEvent is an event from a peer connection; while the session checks
// its data, these wait (statem postpone).
type peerEvent interface {
	event
	from() *Peer
}

// Events on the session's mailbox.
type (
	// evPeerUp: a peer's handshake completed and its goroutines start.
	evPeerUp struct{ p *Peer }
	// evPeerMsg: a message for the core (holds one of the peer's credits).
	evPeerMsg struct {
		p *Peer
		m peerwire.Message
	}
	// evExtHandshake: the peer's BEP 10 handshake, parsed by its reader
	// (holds one of the peer's credits).
	evExtHandshake struct {
		p *Peer
		h peerwire.ExtendedHandshake
	}
	// evPeerGone: the peer's goroutines have exited.
	evPeerGone struct{ p *Peer }
	// evAddPeers: addresses to dial (Config.Peers, AddPeers, trackers).
	evAddPeers struct{ addrs []netip.AddrPort }
	// evChecked: the start-up check of existing data ended.
	evChecked struct {
		have    []int
		checked int // pieces hashed
		err     error
	}
	// evOutDone: an outgoing connection process gave up on addr; final
	// when it is not worth dialling again even if seen anew.
	evOutDone struct {
		addr  netip.AddrPort
		final bool
	}
)

func (e evPeerUp) from() *Peer       { return e.p }
func (e evPeerMsg) from() *Peer      { return e.p }
func (e evExtHandshake) from() *Peer { return e.p }
func (e evPeerGone) from() *Peer     { return e.p }
func (b *block) from() *Peer         { return b.p }

func (e evPeerUp) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	srv.onPeerUp(e.p)
	return srv.step(ph)
}

func (e evPeerMsg) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	e.p.handled()
	srv.onPeerMsg(e.p, e.m)
	return srv.step(ph)
}

func (e evExtHandshake) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	e.p.handled()
	srv.onExtHandshake(e.p, e.h)
	return srv.step(ph)
}

func (e evPeerGone) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	srv.onPeerGone(e.p)
	return srv.step(ph)
}

func (b *block) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	srv.onBlock(b)
	return srv.step(ph)
}

func (e evAddPeers) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	for _, a := range e.addrs {
		srv.book.add(a)
	}
	if ph != Checking {
		srv.dialMore()
	}
	return srv.keepPhase()
}

func (e evOutDone) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	delete(srv.procs, e.addr)
	srv.book.done(e.addr, e.final)
	if ph != Checking {
		srv.dialMore()
	}
	return srv.keepPhase()
}

func (e evChecked) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	if ph != Checking {
		return srv.keepPhase()
	}
	return srv.checked(e)
}

func (r hashResult) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	srv.hashing -= srv.core.PieceLen(r.index)
	if r.err != nil {
		return srv.shutdown(Failed, fmt.Errorf("session: writing piece %d: %w", r.index, r.err))
	}
	srv.s.ctr.hashed(r.ok)
	if r.digests != nil {
		srv.core.PieceHashedDigests(r.index, r.ok, r.digests)
	} else {
		srv.core.PieceHashed(r.index, r.ok)
	}
	if !r.ok {
		srv.log.Debug("piece failed verification", "piece", r.index)
	} else if !srv.firstPiece {
		// Once per session: the moment a stream or a magnet can first show
		// data (bench/magnet measures it from here).
		srv.firstPiece = true
		srv.log.Info("first piece verified", "piece", r.index)
	}
	if ph == Checking {
		return srv.keepPhase()
	}
	return srv.step(ph)
}
