package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/core"
	"github.com/effusion-bt/effusion/peerwire"
)

// ourHandshake is what we send: BEP 6 and BEP 10 bits set.
func (f *torrentFacts) ourHandshake() peerwire.Handshake {
	h := peerwire.Handshake{InfoHash: f.infoHash, PeerID: f.peerID}
	h.SetFast()
	h.SetExtended()
	return h
}

// dialHandshake connects to a and exchanges handshakes, all within
// handshakeTimeout.
func dialHandshake(ctx context.Context, a netip.AddrPort, ours peerwire.Handshake) (net.Conn, peerwire.Handshake, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", a.String())
	if err != nil {
		return nil, peerwire.Handshake{}, err
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if err := peerwire.WriteHandshake(c, ours); err != nil {
		c.Close()
		return nil, peerwire.Handshake{}, err
	}
	h, err := peerwire.ReadHandshake(c)
	if err != nil {
		c.Close()
		return nil, h, err
	}
	if h.InfoHash != ours.InfoHash {
		c.Close()
		return nil, h, fmt.Errorf("%w: %x", ErrWrongTorrent, h.InfoHash)
	}
	if h.PeerID == ours.PeerID {
		c.Close()
		return nil, h, ErrSelf
	}
	c.SetDeadline(time.Time{})
	return c, h, nil
}

// dialMore starts outgoing connection processes while the session is
// below its peer limit (processes backing off count toward it).
func (srv *server) dialMore() {
	for srv.incoming+len(srv.procs) < srv.cfg.MaxPeers {
		a, ok := srv.book.next()
		if !ok {
			return
		}
		c, err := srv.startOutPeer(a)
		if err != nil {
			srv.book.done(a, err)
			continue
		}
		srv.procs[a] = c
	}
}

// serveIncoming finishes the handshake of an incoming connection routed to
// this session and runs the peer until it disconnects (the acceptor's
// connection goroutine waits here).
func (srv *server) serveIncoming(ctx context.Context, c net.Conn, h peerwire.Handshake) error {
	s, f, m := srv.s, srv.f, srv.m
	ours := f.ourHandshake()
	if err := peerwire.WriteHandshake(c, ours); err != nil {
		return err
	}
	if err := peerwire.ReadHandshakePeerID(c, &h); err != nil {
		return err
	}
	c.SetDeadline(time.Time{})
	a, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	p := newPeer(c, netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), h, ours, f, s, false)
	proc, err := srv.startInPeer(p)
	if err != nil {
		return err
	}
	if !s.track(p) {
		p.close(ErrStopped)
	} else if m.Cast(evPeerUp{p}) != nil {
		p.close(ErrStopped)
	}
	p.start(c)
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.close(ctx.Err())
		<-p.Done()
	}
	<-proc.Done() // the process stops once told the connection ended
	return p.Err()
}

// extHandshake encodes ours for p: no extension messages yet, our client
// version, queue depth, listening port and the address we see p at.
func (srv *server) extHandshake(p *Peer) []byte {
	h := peerwire.ExtendedHandshake{M: map[string]int{}, V: ClientVersion, Reqq: maxUploadQueue, YourIP: p.addr.Addr()}
	if a := srv.listener.Addr(); a.IsValid() {
		h.P = int(a.Port())
	}
	return h.Marshal()
}

// onExtHandshake takes what we use from the peer's extension handshake.
// A malformed one is ignored rather than fatal: it carries only hints.
func (srv *server) onExtHandshake(p *Peer, id core.PeerID, payload []byte) {
	h, err := peerwire.ParseExtendedHandshake(payload)
	if err != nil {
		srv.log.Debug("ignoring malformed extension handshake", "peer", p.addr, "err", err)
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
