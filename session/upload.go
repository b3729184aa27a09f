package session

import (
	"slices"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/peerwire"
)

// Uploads are admitted on the peer's reader goroutine by the core's rule
// (core.AdmitRequest), from the atomic have-set and the choke state and
// allowed fast grants kept here under p.mu: a request costs no round trip
// through the session.

// enqueueUpload queues a peer's request if the rule lets us serve it, and
// rejects it otherwise (or beyond maxUploadQueue) when the fast extension
// lets us say so. Without geometry (metadata not known) we have nothing.
func (p *Peer) enqueueUpload(m peerwire.Message, g *geometry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	have := g != nil && g.have.Has(int(m.Index))
	v := core.AdmitRequest(have, p.choking, slices.Contains(p.allowed, m.Index), p.fast)
	if v == core.RequestServe && len(p.ups) >= maxUploadQueue {
		v = core.AdmitRequest(false, false, false, p.fast)
	}
	switch v {
	case core.RequestServe:
		p.ups = append(p.ups, upReq{m.Index, m.Begin, m.Length})
	case core.RequestReject:
		p.out = peerwire.AppendReject(p.out, m.Index, m.Begin, m.Length)
	default:
		return
	}
	p.signal()
}

// cancelUpload drops a queued request the peer no longer wants.
func (p *Peer) cancelUpload(m peerwire.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range p.ups {
		if u.index == m.Index && u.begin == m.Begin && u.length == m.Length {
			p.ups = append(p.ups[:i], p.ups[i+1:]...)
			return
		}
	}
}

// setChoking chokes or unchokes the peer. Choking applies the admission
// rule again to the queued requests: those it no longer serves (all but
// allowed fast ones) are rejected with the fast extension, as BEP 6 asks,
// or dropped.
func (p *Peer) setChoking(choke bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.choking == choke {
		return
	}
	p.choking = choke
	if !choke {
		p.out = peerwire.AppendSimple(p.out, peerwire.MsgUnchoke)
		p.signal()
		return
	}
	p.out = peerwire.AppendSimple(p.out, peerwire.MsgChoke)
	kept := p.ups[:0]
	for _, u := range p.ups {
		switch core.AdmitRequest(true, true, slices.Contains(p.allowed, u.index), p.fast) {
		case core.RequestServe:
			kept = append(kept, u)
		case core.RequestReject:
			p.out = peerwire.AppendReject(p.out, u.index, u.begin, u.length)
		}
	}
	p.ups = kept
	p.signal()
}

// grantAllowedFast sends ALLOWED FAST for a piece the core granted and
// remembers it for admission.
func (p *Peer) grantAllowedFast(piece uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.allowed = append(p.allowed, piece)
	p.out = peerwire.AppendAllowedFast(p.out, piece)
	p.signal()
}

// isChoking reports whether we choke the peer.
func (p *Peer) isChoking() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.choking
}

// queuedUploads returns the number of requests waiting to be served.
func (p *Peer) queuedUploads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ups)
}
