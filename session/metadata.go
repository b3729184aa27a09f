package session

import (
	"fmt"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/metadata"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/statem"
)

// The Metadata phase: a session started from a magnet link (or a bare
// info-hash) has no info dictionary. It finds peers (the magnet's trackers
// and x.pe peers, Config.Peers, AddPeers), asks those that advertise
// ut_metadata for the dictionary's 16 KiB pieces (package metadata decides
// which piece from which peer, checks sizes and the SHA-1, and convicts
// liars), then parses the info with metainfo's strict rules, opens storage
// and the core, and goes on to Checking. Peers that connected meanwhile
// stay connected: what they said of their pieces and choking is kept
// (preCore) and replayed to the core once it exists.

// preCore is what a peer connected in the Metadata phase said that the core
// will want to know, bounded: its availability and its choke and interest
// states. Replayed into the core when the peer is attached.
type preCore struct {
	bitfield    []byte // its bitfield, if it sent one (as sent)
	haves       []uint32
	haveAll     bool
	haveNone    bool
	unchoked    bool // it unchoked us
	interested  bool // it is interested in us
	allowedFast []uint32
}

// maxPreHaves bounds the HAVEs kept per peer before the metadata: beyond,
// only the bitfield and later messages count (a peer completing pieces at
// that rate would make us fetch more from it anyway once attached).
const maxPreHaves = 4096

// record keeps m for replay; false when m is to be ignored.
func (pc *preCore) record(m peerwire.Message) {
	switch m.ID {
	case peerwire.MsgBitfield:
		pc.bitfield = m.Bitfield
	case peerwire.MsgHave:
		if len(pc.haves) < maxPreHaves {
			pc.haves = append(pc.haves, m.Index)
		}
	case peerwire.MsgHaveAll:
		pc.haveAll = true
	case peerwire.MsgHaveNone:
		pc.haveNone = true
	case peerwire.MsgChoke:
		pc.unchoked = false
	case peerwire.MsgUnchoke:
		pc.unchoked = true
	case peerwire.MsgInterested:
		pc.interested = true
	case peerwire.MsgNotInterested:
		pc.interested = false
	case peerwire.MsgAllowedFast:
		if len(pc.allowedFast) < 32 {
			pc.allowedFast = append(pc.allowedFast, m.Index)
		}
	}
}

// replay tells the core what the peer said before it existed. Out-of-range
// indices and wrong bitfields are the core's to judge (it drops the peer).
func (pc *preCore) replay(c *core.Torrent, id core.PeerID) {
	switch {
	case pc.haveAll:
		c.PeerHaveAll(id)
	case pc.bitfield != nil:
		c.PeerBitfield(id, pc.bitfield)
	case pc.haveNone:
		c.PeerHaveNone(id)
	}
	for _, i := range pc.haves {
		c.PeerHave(id, i)
	}
	for _, i := range pc.allowedFast {
		c.PeerAllowedFast(id, i)
	}
	if pc.unchoked {
		c.PeerUnchoke(id)
	}
	if pc.interested {
		c.PeerInterested(id)
	}
}

// beginMetadata starts the Metadata phase: the fetcher, the announcer on
// the magnet's trackers, and the dials.
func (srv *server) beginMetadata() error {
	f, err := metadata.NewFetcher(metadata.Config{InfoHash: srv.s.infoHash, Seed: uint64(time.Now().UnixNano())})
	if err != nil {
		return err
	}
	srv.fetch = f
	srv.metaPeers = make(map[metadata.PeerID]*Peer)
	return nil
}

// startMetadata runs once the machine is reachable: trackers and dials.
func (srv *server) startMetadata() {
	srv.startAnnouncer()
	addrs, _ := srv.cfg.Magnet.PeerAddrs()
	for _, a := range addrs {
		srv.book.add(a)
	}
	for _, a := range srv.cfg.Peers {
		srv.book.add(a)
	}
	srv.dialMore()
}

// Events of the metadata exchange.
type (
	// evMetadataMsg: a ut_metadata message (data copied out of the
	// reader's buffer).
	evMetadataMsg struct {
		p *Peer
		m peerwire.MetadataMsg
	}
	// evStartMetadata: the machine is reachable; begin the Metadata phase.
	evStartMetadata struct{}
)

func (e evMetadataMsg) from() *Peer { return e.p }

func (e evStartMetadata) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	if ph == Metadata {
		srv.startMetadata()
	}
	return srv.step(ph)
}

func (e evMetadataMsg) apply(srv *server, ph Phase) statem.Result[Phase, *server] {
	e.p.handled()
	if _, ok := srv.peers[e.p]; !ok {
		return srv.keepPhase()
	}
	switch e.m.Type {
	case peerwire.MetadataRequest:
		srv.answerMetadata(e.p, e.m.Piece)
	case peerwire.MetadataData, peerwire.MetadataReject:
		if srv.fetch == nil || e.p.mid == 0 {
			break // not asked (late answers after the metadata are harmless)
		}
		if e.m.Type == peerwire.MetadataData {
			srv.fetch.Data(e.p.mid, e.m.Piece, e.m.TotalSize, e.m.Data)
		} else {
			srv.fetch.Reject(e.p.mid, e.m.Piece)
		}
	}
	return srv.step(ph)
}

// answerMetadata serves a peer's ut_metadata request from the info we have
// (a reject before we have it, or beyond the peer's budget).
func (srv *server) answerMetadata(p *Peer, piece int) {
	if p.metaID == 0 {
		return // it never told us its id for ut_metadata: nowhere to answer
	}
	id := uint8(p.metaID)
	if srv.mserver == nil {
		p.queue(func(b []byte) []byte { return peerwire.AppendMetadataReject(b, id, piece) })
		return
	}
	r := srv.mserver.Answer(&p.metaBudget, piece, time.Since(srv.start))
	if r.Type == peerwire.MetadataReject {
		p.queue(func(b []byte) []byte { return peerwire.AppendMetadataReject(b, id, r.Piece) })
		return
	}
	p.queue(func(b []byte) []byte { return peerwire.AppendMetadataData(b, id, r.Piece, r.TotalSize, r.Data) })
}

// stepMetadata performs the fetcher's decisions; on success it parses the
// info and moves to Checking.
func (srv *server) stepMetadata(ph Phase, actions []statem.Action) (statem.Result[Phase, *server], bool) {
	if srv.fetch == nil {
		return statem.Result[Phase, *server]{}, false
	}
	rd := srv.fetch.Ready()
	for _, r := range rd.Requests {
		if p := srv.metaPeers[r.Peer]; p != nil && p.metaID != 0 {
			id, piece := uint8(p.metaID), r.Piece
			p.queue(func(b []byte) []byte { return peerwire.AppendMetadataRequest(b, id, piece) })
		}
	}
	for _, d := range rd.Drops {
		if p := srv.metaPeers[d.Peer]; p != nil {
			if d.Ban {
				srv.book.ban(p.addr)
				srv.bannedIDs[p.remote.PeerID] = struct{}{}
			}
			srv.log.Debug("dropping peer (metadata)", "peer", p.addr, "reason", d.Reason, "ban", d.Ban)
			p.close(&ViolationError{Peer: p.addr, Reason: "metadata: " + d.Reason.String()})
		}
	}
	if rd.Info == nil {
		return statem.Result[Phase, *server]{}, false
	}
	info := rd.Info
	srv.fetch, srv.metaPeers = nil, nil
	mi, err := srv.cfg.Magnet.MetaInfo(info)
	if err != nil {
		return srv.shutdown(Failed, fmt.Errorf("session: the metadata fetched from peers: %w", err)), true
	}
	if err := srv.setInfo(mi, srv.cfg.FilePriorities); err != nil {
		return srv.shutdown(Failed, err), true
	}
	srv.log.Info("metadata fetched", "name", mi.Info.Name, "pieces", mi.Info.NumPieces(), "size", len(info))
	if mi.Info.Private {
		// BEP 27, known only now: no more PEX, DHT or metadata exchange.
		// Peer goroutines skip such messages from here on; our own
		// handshakes (new connections) no longer offer them.
		srv.f.metadataOn.Store(false)
		srv.f.pexOn.Store(false)
		srv.f.dhtOn.Store(false)
		srv.pexSwarm = nil
		for p := range srv.peers {
			p.pexConn = nil
		}
	}
	close(srv.s.infoReady)
	if srv.cfg.MetadataOnly {
		return srv.shutdown(Stopped, nil, actions...), true
	}
	srv.beginCheck()
	srv.publish(Checking)
	return statem.Next(Checking, srv, actions...), true
}

// attachPeers gives the core the peers connected before it existed, with
// what they said meanwhile; runs as the check ends.
func (srv *server) attachPeers() {
	for p, id := range srv.peers {
		if id != core.NoPeer {
			continue
		}
		srv.attach(p, true)
	}
}
