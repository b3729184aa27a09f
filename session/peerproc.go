package session

import (
	"context"
	"errors"
	"time"

	"net/netip"

	"github.com/cenkalti/backoff/v5"
	"github.com/effusion-bt/effusion/connection"
	"github.com/effusion-bt/effusion/statem"
	"github.com/effusion-bt/effusion/transport"
)

// Retry policy of outgoing peers.
const (
	// maxDialFailures: an address that failed this many times in a row
	// (dial, handshake, or a connection that ended early) is given up.
	maxDialFailures = 6
	// stableConnection: a connection that lasted this long resets the
	// failure count.
	stableConnection = time.Minute
)

// peerProc is the connection process (package connection, a statem) that
// owns one peer connection. For an outgoing peer it dials (through the
// environment's dialer, under its half-open cap), hands the peer to the
// session, and when the connection is lost backs off and dials again if
// the peer is worth retrying: the one place retries are counted. When it
// gives up it tells the session whether the address is worth dialling
// again if seen anew. For an incoming peer (accepted, already connected)
// it only watches the connection and stops with it.
type peerProc struct {
	connection.Defaults[*peerProc]
	srv      *server // immutable parts only: s, f, m, cfg, log
	addr     addrKey
	incoming bool
	self     chan *connection.Conn[*peerProc] // our own handle, once Start returned
	p        *Peer                            // the live connection, if any
	since    time.Time                        // when p connected
	fails    int
	bo       connection.Policy
}

// addrKey is a peer address (netip.AddrPort) as the book keys it.
type addrKey = netip.AddrPort

// peerLost is cast to a peer's process by the peer's reader when the
// connection ended.
type peerLost struct{ err error }

// startOutPeer starts the process of an outgoing peer; it dials at once.
func (srv *server) startOutPeer(a addrKey) (*connection.Conn[*peerProc], error) {
	pp := &peerProc{srv: srv, addr: a, self: make(chan *connection.Conn[*peerProc], 1), bo: &backoff.ExponentialBackOff{
		InitialInterval:     time.Second,
		RandomizationFactor: 0.3,
		Multiplier:          2,
		MaxInterval:         2 * time.Minute,
	}}
	c, err := connection.Start[*peerProc](context.Background(), pp, statem.WithLog(machineLog))
	if err == nil {
		pp.self <- c
	}
	return c, err
}

// startInPeer starts the process owning an accepted peer (before the
// peer's goroutines start).
func (srv *server) startInPeer(p *Peer) (*connection.Conn[*peerProc], error) {
	pp := &peerProc{srv: srv, addr: p.addr, incoming: true, p: p, since: time.Now()}
	c, err := connection.Start[*peerProc](context.Background(), pp, statem.WithLog(machineLog))
	if err == nil {
		p.owner = c
	}
	return c, err
}

// Init connects right away (outgoing) or starts connected (incoming).
func (pp *peerProc) Init(context.Context) (connection.Result[*peerProc], error) {
	if pp.incoming {
		return connection.Ok(pp), nil
	}
	return connection.Connect[*peerProc](nil, pp), nil
}

// Connect dials and handshakes; on success the session gets the peer.
func (pp *peerProc) Connect(ctx context.Context, _ any, _ *peerProc) connection.Result[*peerProc] {
	srv := pp.srv
	ours := srv.f.ourHandshake()
	c, h, err := srv.env.dialer.DialPeer(ctx, pp.addr, ours)
	if ctx.Err() != nil {
		if c != nil {
			c.Close()
		}
		return connection.Stop(nil, pp)
	}
	if err != nil {
		return pp.failed(err)
	}
	p := newPeer(c, pp.addr, h, ours, srv.f, srv.s, true)
	select {
	case self := <-pp.self:
		pp.self <- self // for the next connect
		p.owner = self
	case <-ctx.Done():
		c.Close()
		return connection.Stop(nil, pp)
	}
	if !srv.s.track(p) {
		c.Close()
		return connection.Stop(nil, pp)
	}
	pp.p, pp.since = p, time.Now()
	srv.s.post(evPeerUp{p})
	p.start(c)
	return connection.Ok(pp)
}

// failed backs off, or gives up (telling the session) when the peer is not
// worth retrying.
func (pp *peerProc) failed(err error) connection.Result[*peerProc] {
	pp.fails++
	if retry := worthRetrying(err); !retry || pp.fails >= maxDialFailures {
		pp.srv.s.post(evOutDone{addr: pp.addr, final: !retry})
		return connection.Stop(nil, pp)
	}
	return connection.Backoff(pp.bo.NextBackOff(), pp)
}

// HandleCast receives peerLost from the peer's reader.
func (pp *peerProc) HandleCast(_ context.Context, msg any, _ *peerProc) connection.Result[*peerProc] {
	if l, ok := msg.(peerLost); ok {
		return connection.Disconnect(l.err, pp)
	}
	return connection.Ok(pp)
}

// Disconnect decides about a lost connection.
func (pp *peerProc) Disconnect(_ context.Context, info any, _ *peerProc) connection.Result[*peerProc] {
	err, _ := info.(error)
	if pp.incoming {
		return connection.Stop(nil, pp)
	}
	if pp.p != nil {
		pp.p.close(err)
		if time.Since(pp.since) >= stableConnection {
			pp.fails = 0
			pp.bo.Reset()
		}
		pp.p = nil
	}
	if err == nil {
		err = ErrClosed
	}
	return pp.failed(err)
}

// Terminate closes the connection if it is still open.
func (pp *peerProc) Terminate(error, *peerProc) {
	if pp.p != nil {
		pp.p.close(ErrStopped)
	}
}

// worthRetrying: protocol violations, bans, self, duplicate and seed-to-seed
// connections and a stopping session are final; network failures are
// retried.
func worthRetrying(err error) bool {
	switch {
	case errors.Is(err, ErrProtocol), errors.Is(err, ErrBanned), errors.Is(err, ErrSelf),
		errors.Is(err, ErrDuplicate), errors.Is(err, ErrStopped), errors.Is(err, ErrWrongTorrent),
		errors.Is(err, errBothSeeds), errors.Is(err, ErrTooManyPeers), errors.Is(err, ErrSlowPeer),
		errors.Is(err, ErrEvicted), errors.Is(err, transport.ErrNoUTP):
		return false
	}
	return true
}
