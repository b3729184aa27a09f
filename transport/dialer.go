package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// HandshakeTimeout bounds a dial plus the handshake exchange, and an
// incoming handshake's header.
const HandshakeTimeout = 10 * time.Second

// DefaultMaxHalfOpen is the process-wide cap on outgoing connections in
// progress when NewDialer is given 0.
const DefaultMaxHalfOpen = 32

// Dialer connects to peers and exchanges BitTorrent handshakes, with at most
// a fixed number of dials in progress at once across every torrent that
// shares it. It is safe for concurrent use.
type Dialer struct {
	sem   chan struct{}
	local net.Addr // source address of outgoing connections, or nil
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

// DialPeer waits for a free dial slot (or ctx), connects to a and exchanges
// handshakes, all within HandshakeTimeout after the slot. The remote must
// name ours.InfoHash (ErrWrongTorrent) and another peer id (ErrSelf). The
// returned connection has no deadline set.
func (d *Dialer) DialPeer(ctx context.Context, a netip.AddrPort, ours peerwire.Handshake) (net.Conn, peerwire.Handshake, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, peerwire.Handshake{}, ctx.Err()
	}
	defer func() { <-d.sem }()
	ctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	nd := net.Dialer{LocalAddr: d.local}
	c, err := nd.DialContext(ctx, "tcp", a.String())
	if err != nil {
		return nil, peerwire.Handshake{}, err
	}
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	h, err := exchange(c, ours)
	if err != nil {
		c.Close()
		return nil, h, err
	}
	c.SetDeadline(time.Time{})
	return c, h, nil
}

// exchange sends our handshake and reads and checks the remote one.
func exchange(c net.Conn, ours peerwire.Handshake) (peerwire.Handshake, error) {
	if err := peerwire.WriteHandshake(c, ours); err != nil {
		return peerwire.Handshake{}, err
	}
	h, err := peerwire.ReadHandshake(c)
	if err != nil {
		return h, err
	}
	if h.InfoHash != ours.InfoHash {
		return h, fmt.Errorf("%w: %x", ErrWrongTorrent, h.InfoHash)
	}
	if h.PeerID == ours.PeerID {
		return h, ErrSelf
	}
	return h, nil
}
