package session

import (
	"context"
	"errors"
	"time"

	"net/netip"

	"github.com/cenkalti/backoff/v5"
	"github.com/effusion-bt/effusion/connection"
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

// outPeer is the connection process (package connection) of one outgoing
// peer: it dials under the process-wide half-open cap, hands the peer to
// the session, and when the session reports the connection lost, backs off
// and dials again if the peer is worth retrying.
type outPeer struct {
	connection.Defaults[*outPeer]
	srv   *server // immutable parts only: s, f, m, cfg, log
	addr  addrKey
	p     *Peer     // the live connection, if any
	since time.Time // when p connected
	fails int
	bo    connection.Policy
}

// addrKey is a peer address (netip.AddrPort) as the book keys it.
type addrKey = netip.AddrPort

// peerLost is cast to an outPeer by the session when its connection ended.
type peerLost struct{ err error }

// startOutPeer starts the process; it dials at once.
func (srv *server) startOutPeer(a addrKey) (*connection.Conn[*outPeer], error) {
	op := &outPeer{srv: srv, addr: a, bo: &backoff.ExponentialBackOff{
		InitialInterval:     time.Second,
		RandomizationFactor: 0.3,
		Multiplier:          2,
		MaxInterval:         2 * time.Minute,
	}}
	return connection.Start[*outPeer](context.Background(), op)
}

// Init connects right away.
func (op *outPeer) Init(context.Context) (connection.Result[*outPeer], error) {
	return connection.Connect[*outPeer](nil, op), nil
}

// Connect dials and handshakes; on success the session gets the peer.
func (op *outPeer) Connect(ctx context.Context, _ any, _ *outPeer) connection.Result[*outPeer] {
	srv := op.srv
	select {
	case halfOpen <- struct{}{}:
	case <-ctx.Done():
		return connection.Stop(nil, op)
	}
	ours := srv.f.ourHandshake()
	c, h, err := dialHandshake(ctx, op.addr, ours)
	<-halfOpen
	if err != nil {
		return op.failed(err)
	}
	p := newPeer(c, op.addr, h, ours, srv.f, srv.s, true)
	if !srv.s.track(p) {
		c.Close()
		return connection.Stop(nil, op)
	}
	op.p, op.since = p, time.Now()
	srv.m.Cast(evPeerUp{p})
	p.start(c)
	return connection.Ok(op)
}

// failed backs off, or gives up (telling the session) when the peer is not
// worth retrying.
func (op *outPeer) failed(err error) connection.Result[*outPeer] {
	op.fails++
	if !worthRetrying(err) || op.fails >= maxDialFailures {
		op.srv.m.Cast(evOutDone{op.addr, err})
		return connection.Stop(nil, op)
	}
	return connection.Backoff(op.bo.NextBackOff(), op)
}

// HandleCast receives peerLost from the session.
func (op *outPeer) HandleCast(_ context.Context, msg any, _ *outPeer) connection.Result[*outPeer] {
	if l, ok := msg.(peerLost); ok {
		return connection.Disconnect(l.err, op)
	}
	return connection.Ok(op)
}

// Disconnect decides about a lost connection.
func (op *outPeer) Disconnect(_ context.Context, info any, _ *outPeer) connection.Result[*outPeer] {
	err, _ := info.(error)
	if op.p != nil {
		op.p.close(err)
		if time.Since(op.since) >= stableConnection {
			op.fails = 0
			op.bo.Reset()
		}
		op.p = nil
	}
	if err == nil {
		err = ErrClosed
	}
	return op.failed(err)
}

// Terminate closes the connection if it is still open.
func (op *outPeer) Terminate(error, *outPeer) {
	if op.p != nil {
		op.p.close(ErrStopped)
	}
}

// worthRetrying: protocol violations, bans, self, duplicate and seed-to-seed
// connections and a stopping session are final; network failures are
// retried.
func worthRetrying(err error) bool {
	switch {
	case errors.Is(err, ErrProtocol), errors.Is(err, ErrBanned), errors.Is(err, ErrSelf),
		errors.Is(err, ErrDuplicate), errors.Is(err, ErrStopped), errors.Is(err, ErrWrongTorrent),
		errors.Is(err, errBothSeeds), errors.Is(err, ErrTooManyPeers):
		return false
	}
	return true
}
