package mse

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// Dialer opens outgoing peer connections under a Policy and exchanges the
// BitTorrent handshakes, falling back from MSE to plain under Prefer the
// way libtorrent and Transmission do. Its zero value dials TCP under
// Prefer without memory. A Dialer is safe for concurrent use once its
// fields are set; the client shares one among its torrents.
type Dialer struct {
	// Policy decides what is attempted (see Policy).
	Policy Policy
	// Transport opens one transport connection; nil dials TCP. Under
	// Prefer it may be called twice for one Dial: MSE, then plain (or the
	// reverse for an address Memory says is plain-only).
	Transport func(ctx context.Context, addr netip.AddrPort) (net.Conn, error)
	// Memory remembers addresses that answered plain but not MSE, so that
	// Prefer tries plain first there next time; nil remembers nothing.
	Memory *Memory
}

// Dial connects to addr, runs the policy and exchanges BitTorrent
// handshakes: ours is sent (inside the MSE handshake as its initial
// payload, or as the first bytes of a plain connection) and the peer's is
// read and returned. The caller checks it as for any handshake (info-hash,
// peer id) and goes on with the returned Conn, whose Method says what was
// negotiated (None for plain).
//
// Under Prefer, when the first attempt fails after the transport
// connection was made (the peer closed, reset, sent garbage or did not
// answer in time), a second connection tries the other way; a failure to
// connect at all is returned at once. When ctx has a deadline the first
// attempt gets half of the time left, so that a peer that swallows our
// key in silence leaves time for the second. Under Require and Off there
// is one attempt. ctx bounds everything; on error no connection is left
// open.
func (d *Dialer) Dial(ctx context.Context, addr netip.AddrPort, ours peerwire.Handshake) (*Conn, peerwire.Handshake, error) {
	switch d.Policy {
	case Off:
		c, h, _, err := d.attempt(ctx, addr, ours, None)
		return c, h, err
	case Require:
		c, h, _, err := d.attempt(ctx, addr, ours, RC4)
		return c, h, err
	case Prefer:
	default:
		return nil, peerwire.Handshake{}, fmt.Errorf("mse: Dial: invalid policy %v", d.Policy)
	}
	first, second := d.Policy.Provide(), None
	if d.Memory.PlainOnly(addr) {
		first, second = second, first
	}
	ctx1, cancel := ctx, context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok {
		ctx1, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
	}
	c, h, connected, err := d.attempt(ctx1, addr, ours, first)
	cancel()
	if err == nil {
		d.Memory.record(addr, first == None)
		return c, h, nil
	}
	if !connected || ctx.Err() != nil {
		return nil, h, err
	}
	c, h, _, err2 := d.attempt(ctx, addr, ours, second)
	if err2 != nil {
		return nil, h, fmt.Errorf("%w (after %s failed: %v)", err2, attemptName(first), err)
	}
	d.Memory.record(addr, second == None)
	return c, h, nil
}

func attemptName(provide Method) string {
	if provide == None {
		return "plain"
	}
	return "mse"
}

// attempt makes one connection: MSE offering provide, or plain when
// provide is None. connected reports whether the transport connection was
// made.
func (d *Dialer) attempt(ctx context.Context, addr netip.AddrPort, ours peerwire.Handshake, provide Method) (c *Conn, theirs peerwire.Handshake, connected bool, err error) {
	dial := d.Transport
	if dial == nil {
		dial = dialTCP
	}
	raw, err := dial(ctx, addr)
	if err != nil {
		return nil, theirs, false, err
	}
	var buf [peerwire.HandshakeLen]byte
	hs := peerwire.AppendHandshake(buf[:0], ours)
	if provide != None {
		c, err = Initiate(ctx, raw, ours.InfoHash, provide, hs)
		if err == nil {
			err = bound(ctx, raw, true, func() (err error) {
				theirs, err = peerwire.ReadHandshake(c)
				return err
			})
		}
	} else {
		c = &Conn{conn: raw}
		err = bound(ctx, raw, true, func() (err error) {
			if _, err = raw.Write(hs); err != nil {
				return err
			}
			theirs, err = peerwire.ReadHandshake(raw)
			return err
		})
	}
	if err != nil {
		raw.Close()
		return nil, theirs, true, err
	}
	return c, theirs, true, nil
}

func dialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr.String())
}
