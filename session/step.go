package session

import (
	"fmt"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/statem"
)

// step performs the core's decisions, then moves to Seeding (or stops)
// when the batch completed the download.
func (srv *server) step(ph Phase, actions ...statem.Action) statem.Result[Phase, *server] {
	if r, done := srv.stepMetadata(ph, actions); done {
		return r
	}
	srv.perform()
	actions = srv.armTick(ph, actions)
	if srv.justCompleted {
		srv.justCompleted = false
		return srv.completed(ph, actions...)
	}
	return srv.keepPhase(actions...)
}

// armTick adds the tick timer to actions when it is not set and there are
// peers (or dials): the tick runs only then, so that an idle torrent costs
// no timer and thousands of them cost no CPU.
func (srv *server) armTick(ph Phase, actions []statem.Action) []statem.Action {
	if !srv.ticking && (len(srv.peers)+len(srv.procs) > 0 || srv.web.active()) && ph != Stopped && ph != Failed {
		srv.ticking = true
		actions = append(actions, statem.SetGenericTimeout(tickTimer{}, tickInterval, nil))
	}
	return actions
}

// perform drains the core's batch of decisions and carries them out: the
// messages to each peer, the pieces to hash, the HAVEs, the drops and the
// block data it let go of. A batch that completed the download sets
// justCompleted, for step.
func (srv *server) perform() {
	if srv.core == nil {
		return
	}
	rd := srv.core.Ready()
	for _, msg := range rd.Messages {
		if p := srv.peerOf(msg.Peer); p != nil {
			srv.send(p, msg)
		} else {
			srv.seedMessage(msg)
		}
	}
	for _, i := range rd.Hash {
		srv.hash(i)
	}
	if len(rd.Have) > 0 {
		srv.g.left.Store(srv.core.Stats().Left)
	}
	for _, i := range rd.Have {
		srv.g.have.Set(int(i))
		for p := range srv.peers {
			p.send(peerwire.Message{ID: peerwire.MsgHave, Index: i})
		}
	}
	if len(rd.Have) > 0 {
		srv.s.rd.piecesVerified()
	}
	for _, d := range rd.Drops {
		if p := srv.peerOf(d.Peer); p != nil {
			srv.drop(p, d)
		} else {
			srv.seedDropped(d)
		}
	}
	for _, d := range rd.Discard {
		srv.env.blocks.put(d.(*block))
	}
	if rd.Completed {
		srv.justCompleted = true
	}
	srv.webSeedsAfter() // last: it may perform again
}

// send carries out one message of the core's to p.
func (srv *server) send(p *Peer, msg core.Message) {
	switch msg.Kind {
	case core.MsgRequest:
		p.send(peerwire.Message{ID: peerwire.MsgRequest, Index: msg.Piece, Begin: msg.Begin, Length: msg.Length})
	case core.MsgCancel:
		p.send(peerwire.Message{ID: peerwire.MsgCancel, Index: msg.Piece, Begin: msg.Begin, Length: msg.Length})
	case core.MsgChoke, core.MsgUnchoke:
		p.setChoking(msg.Kind == core.MsgChoke)
	case core.MsgBitfield:
		bits := srv.core.AppendBitfield(nil)
		p.queue(func(b []byte) []byte { return peerwire.AppendBitfield(b, bits) })
	case core.MsgAllowedFast:
		p.grantAllowedFast(msg.Piece)
	case core.MsgInterested:
		p.send(peerwire.Message{ID: peerwire.MsgInterested})
	case core.MsgNotInterested:
		p.send(peerwire.Message{ID: peerwire.MsgNotInterested})
	case core.MsgHaveAll:
		p.send(peerwire.Message{ID: peerwire.MsgHaveAll})
	case core.MsgHaveNone:
		p.send(peerwire.Message{ID: peerwire.MsgHaveNone})
	}
}

// hash hands a complete piece, whose blocks the core gives back in order,
// to the hasher.
func (srv *server) hash(i uint32) {
	srv.taken = srv.core.TakePiece(i, srv.taken[:0])
	j := srv.hasher.newJob(len(srv.taken))
	for k, d := range srv.taken {
		j.blocks[k] = d.(*block)
	}
	clear(srv.taken)
	j.index = i
	j.want = srv.mi.Info.PieceHash(int(i))
	j.digests = srv.core.NeedDigests(i)
	srv.hashing += srv.core.PieceLen(i)
	// No other piece to come: the hasher need not wait for company.
	j.last = srv.core.Stats().Left <= srv.hashing || srv.streamUrgent(i)
	srv.hasher.submit(j)
}

// drop disconnects a peer the core dropped, banning it when asked.
func (srv *server) drop(p *Peer, d core.Drop) {
	var err error
	switch {
	case d.Ban:
		srv.book.ban(p.addr)
		srv.s.ctr.bans.Add(1)
		srv.bannedIDs[p.remote.PeerID] = struct{}{}
		err = fmt.Errorf("%w: %v: %s", ErrBanned, p.addr, d.Reason)
	case d.Reason == core.ReasonBothSeeds:
		err = errBothSeeds
	default:
		err = &ViolationError{Peer: p.addr, Reason: d.Reason.String()}
	}
	srv.log.Debug("dropping peer", "peer", p.addr, "reason", d.Reason, "ban", d.Ban)
	p.close(err)
}

func (srv *server) peerOf(id core.PeerID) *Peer {
	s := id.Slot()
	if s <= 0 || s >= len(srv.bySlot) {
		return nil
	}
	p := srv.bySlot[s]
	if p == nil || srv.peers[p] != id {
		return nil
	}
	return p
}

// onBlock gives a received block to the core, which keeps it in its piece
// if it was requested.
func (srv *server) onBlock(b *block) {
	id, ok := srv.peers[b.p]
	if !ok || id == core.NoPeer {
		srv.env.blocks.put(b)
		return
	}
	b.p = nil
	if srv.core.BlockReceived(id, b.index, b.begin, b.n, b) != core.BlockAccepted {
		srv.env.blocks.put(b)
	}
}
