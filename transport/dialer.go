package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/peerwire"
)

// HandshakeTimeout bounds a dial plus the handshake exchange (MSE
// included), and an incoming handshake's header.
const HandshakeTimeout = 10 * time.Second

// DefaultMaxHalfOpen is the process-wide cap on outgoing connections in
// progress when NewDialer is given 0.
const DefaultMaxHalfOpen = 32

// Dialer connects to peers and exchanges BitTorrent handshakes (after MSE,
// as its encryption policy says), with at most a fixed number of dials in
// progress at once across every torrent that shares it. It is safe for
// concurrent use.
type Dialer struct {
	sem    chan struct{}
	local  net.Addr // source address of outgoing connections, or nil
	policy atomic.Uint32
	memory mse.Memory // peers that answered plain but not MSE
}

// NewDialer returns a dialer allowing maxHalfOpen dials in progress (0:
// DefaultMaxHalfOpen). A valid local address makes every connection leave
// from it (the --bind address).
func NewDialer(maxHalfOpen int, local netip.Addr) *Dialer {
	if maxHalfOpen <= 0 {
		maxHalfOpen = DefaultMaxHalfOpen
	}
	d := &Dialer{sem: make(chan struct{}, maxHalfOpen)}
	if local.IsValid() && !local.IsUnspecified() {
		d.local = &net.TCPAddr{IP: local.AsSlice()}
	}
	return d
}

// SetEncryption sets what outgoing connections try (mse.Prefer: MSE, then
// plain on a new connection if the peer does not answer it; Require: MSE
// only; Off: plain only).
func (d *Dialer) SetEncryption(p mse.Policy) { d.policy.Store(uint32(p)) }

// DialPeer waits for a free dial slot (or ctx), connects to a and exchanges
// handshakes, all within HandshakeTimeout after the slot. The remote must
// name ours.InfoHash (ErrWrongTorrent) and another peer id (ErrSelf). The
// returned connection has no deadline set; it is an *mse.Conn when RC4 was
// negotiated, else the bare connection (sendfile and writev stay
// available).
func (d *Dialer) DialPeer(ctx context.Context, a netip.AddrPort, ours peerwire.Handshake) (net.Conn, peerwire.Handshake, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, peerwire.Handshake{}, ctx.Err()
	}
	defer func() { <-d.sem }()
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	md := mse.Dialer{
		Policy: mse.Policy(d.policy.Load()),
		Memory: &d.memory,
		Transport: func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: d.local}
			return nd.DialContext(ctx, "tcp", addr.String())
		},
	}
	c, h, err := md.Dial(ctx, a, ours)
	if err != nil {
		return nil, h, err
	}
	switch {
	case h.InfoHash != ours.InfoHash:
		c.Close()
		return nil, h, fmt.Errorf("%w: %x", ErrWrongTorrent, h.InfoHash)
	case h.PeerID == ours.PeerID:
		c.Close()
		return nil, h, ErrSelf
	}
	c.SetDeadline(time.Time{})
	if bare, ok := c.Plain(); ok {
		return bare, h, nil
	}
	return c, h, nil
}
