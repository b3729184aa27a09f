package session

import (
	"bytes"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/peerwire"
)

// onPeerUp admits (or refuses) a peer whose handshake completed. At the
// peer limit, an incoming peer takes the slot of the peer the core finds
// least useful (core.Evictable), if any. In the Metadata phase there is no
// core yet: the peer is told we have nothing and waits (preCore) to be
// attached.
func (srv *server) onPeerUp(p *Peer) {
	var err error
	switch {
	case p.remote.PeerID == srv.f.peerID:
		err = ErrSelf
		srv.book.markDead(p.addr)
	case srv.byPeerID[p.remote.PeerID] != nil:
		old := srv.byPeerID[p.remote.PeerID]
		if !srv.keepNewer(old, p) {
			err = ErrDuplicate
			break
		}
		srv.forget(old) // gone from the peer table (and Stats) now, not when its reader ends
		old.close(ErrDuplicate)
	case srv.book.banned(p.addr), srv.isBannedID(p.remote.PeerID):
		err = ErrBanned
	case !p.outgoing && (srv.incoming+len(srv.procs) >= srv.cfg.MaxPeers || srv.env.full()) && !srv.evict():
		err = ErrTooManyPeers
	}
	if err != nil {
		p.close(err)
		return
	}
	srv.byPeerID[p.remote.PeerID] = p
	srv.env.peers.Add(1)
	if !p.outgoing {
		srv.incoming++
	}
	if p.outgoing {
		srv.pexConnected(p, p.addr)
	}
	if srv.core == nil {
		srv.peers[p] = core.NoPeer
		p.pre = &preCore{}
		if p.fast {
			p.send(peerwire.Message{ID: peerwire.MsgHaveNone})
		}
	} else {
		srv.peers[p] = core.NoPeer
		srv.attach(p, false)
	}
	if p.ext {
		payload := srv.extHandshake(p)
		p.queue(func(b []byte) []byte { return peerwire.AppendExtended(b, 0, payload) })
	}
	if port := srv.env.dhtPort; srv.f.dhtOn.Load() && p.remote.SupportsDHT() {
		p.queue(func(b []byte) []byte { return peerwire.AppendPort(b, port) })
	}
	srv.publish(srv.s.Stats().Phase) // the new peer in Stats at once
	srv.log.Debug("peer connected", "peer", p.addr, "outgoing", p.outgoing, "fast", p.fast, "ext", p.ext,
		"encrypted", p.mc != nil && p.mc.Encrypted())
}

// attach gives the core a peer in the peer table: its greeting goes out
// (availability first, as BEP 3 requires; for a peer connected in the
// Metadata phase, which was told HAVE NONE, a HAVE per piece we have), and
// what it said before the core existed is replayed.
func (srv *server) attach(p *Peer, preGreeted bool) {
	if !srv.ticking {
		// The core's clock stands still while no peer is connected: bring
		// it to now before the peer's connection time is taken from it.
		srv.core.Tick(time.Since(srv.start))
	}
	caps := core.Caps{Fast: p.fast, AvailSent: preGreeted}
	if p.fast {
		caps.AllowedFast = peerwire.AllowedFastSet(p.addr.Addr(), srv.f.infoHash, srv.g.numPieces, core.AllowedFastCount)
	}
	id := srv.core.PeerConnected(caps)
	if id == core.NoPeer {
		srv.forget(p)
		p.close(ErrTooManyPeers)
		return
	}
	srv.peers[p] = id
	for len(srv.bySlot) <= id.Slot() {
		srv.bySlot = append(srv.bySlot, nil)
	}
	srv.bySlot[id.Slot()] = p
	if preGreeted && srv.g.have.Count() > 0 {
		for i := range srv.g.numPieces {
			if srv.g.have.Has(i) {
				p.send(peerwire.Message{ID: peerwire.MsgHave, Index: uint32(i)})
			}
		}
	}
	if pc := p.pre; pc != nil {
		p.pre = nil
		pc.replay(srv.core, id)
	}
	if h, ok := srv.pendingReqQ[p]; ok {
		delete(srv.pendingReqQ, p)
		srv.core.PeerReqQ(id, h)
	}
	srv.perform()
}

// evict closes the peer the core names as least useful, to make room for
// a new one; false when every peer is worth its slot (or there is no core
// yet to judge).
func (srv *server) evict() bool {
	if srv.core == nil {
		return false
	}
	id := srv.core.Evictable()
	victim := srv.peerOf(id)
	if victim == nil {
		return false
	}
	srv.log.Debug("evicting a peer for a newcomer", "peer", victim.addr)
	srv.forget(victim)
	victim.close(ErrEvicted)
	return true
}

// onPeerGone forgets a disconnected peer and dials another.
func (srv *server) onPeerGone(p *Peer) {
	if srv.forget(p) {
		srv.log.Debug("peer gone", "peer", p.addr, "err", p.Err())
		srv.dialMore()
	}
}

// forget removes p from the core, the metadata fetcher, PEX and the peer
// table; false if it was not there.
func (srv *server) forget(p *Peer) bool {
	id, ok := srv.peers[p]
	if !ok {
		return false
	}
	if !p.outgoing {
		srv.incoming--
	}
	if id != core.NoPeer {
		srv.core.PeerGone(id)
		srv.bySlot[id.Slot()] = nil
	}
	if p.mid != 0 && srv.fetch != nil {
		srv.fetch.PeerGone(p.mid)
		delete(srv.metaPeers, p.mid)
	}
	srv.pexGone(p)
	srv.env.peers.Add(-1)
	delete(srv.peers, p)
	delete(srv.clients, p)
	delete(srv.pendingReqQ, p)
	if srv.byPeerID[p.remote.PeerID] == p {
		delete(srv.byPeerID, p.remote.PeerID)
	}
	return true
}

// onPeerMsg steps the core with a peer's message (keeps it for the core
// in the Metadata phase).
func (srv *server) onPeerMsg(p *Peer, m peerwire.Message) {
	id, ok := srv.peers[p]
	if !ok {
		return
	}
	if id == core.NoPeer {
		if p.pre != nil {
			p.pre.record(m)
		}
		return
	}
	c := srv.core
	switch m.ID {
	case peerwire.MsgChoke:
		c.PeerChoke(id)
	case peerwire.MsgUnchoke:
		c.PeerUnchoke(id)
	case peerwire.MsgInterested:
		c.PeerInterested(id)
	case peerwire.MsgNotInterested:
		c.PeerNotInterested(id)
	case peerwire.MsgHave:
		c.PeerHave(id, m.Index)
	case peerwire.MsgBitfield:
		c.PeerBitfield(id, m.Bitfield)
	case peerwire.MsgHaveAll:
		c.PeerHaveAll(id)
	case peerwire.MsgHaveNone:
		c.PeerHaveNone(id)
	case peerwire.MsgReject:
		c.PeerReject(id, m.Index, m.Begin, m.Length)
	case peerwire.MsgAllowedFast:
		c.PeerAllowedFast(id, m.Index)
	case peerwire.MsgSuggest:
		c.PeerSuggest(id, m.Index)
	}
}

// keepNewer decides between two connections to the same peer, the same way
// on both ends so that a simultaneous open keeps exactly one: the one
// initiated by the side with the lower peer id. Two connections started by
// the same side keep the older one.
func (srv *server) keepNewer(old, p *Peer) bool {
	if old.outgoing == p.outgoing {
		return false
	}
	initiator := func(c *Peer) []byte {
		if c.outgoing {
			return srv.f.peerID[:]
		}
		return c.remote.PeerID[:]
	}
	return bytes.Compare(initiator(p), initiator(old)) < 0
}

func (srv *server) isBannedID(id [20]byte) bool {
	_, ok := srv.bannedIDs[id]
	return ok
}

// dialMore starts outgoing connection processes while the session is
// below its peer limit, less the slots kept for incoming peers (processes
// backing off count toward it).
func (srv *server) dialMore() {
	limit := srv.cfg.MaxPeers - max(1, srv.cfg.MaxPeers/10)
	for srv.incoming+len(srv.procs) < limit && !srv.env.full() {
		a, ok := srv.book.next()
		if !ok {
			return
		}
		c, err := srv.startOutPeer(a)
		if err != nil {
			srv.book.done(a, true)
			continue
		}
		srv.procs[a] = c
	}
}
