package session

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// incoming is the session as the listener's Handler.
type incoming struct{ srv *server }

// ServeIncoming finishes the handshake of an incoming connection routed to
// this session and runs the peer until it disconnects (the acceptor's
// connection goroutine waits here).
func (in incoming) ServeIncoming(ctx context.Context, c net.Conn, h peerwire.Handshake) error {
	srv := in.srv
	s, f := srv.s, srv.f
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
	if !s.track(p) || !s.post(evPeerUp{p}) {
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
