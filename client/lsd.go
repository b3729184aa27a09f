package client

import (
	"context"
	"net/netip"

	"github.com/effusion-bt/effusion/lsd"
)

// startLSD starts local service discovery (BEP 14) unless Config.NoLSD; a
// host where no multicast group can be joined runs without it (logged).
func (c *Client) startLSD(ctx context.Context) {
	if c.cfg.NoLSD {
		return
	}
	svc, err := lsd.New(ctx, lsd.Config{
		Port:     c.listener.Addr().Port(),
		OnPeer:   c.lsdPeer,
		Interval: c.cfg.lsdInterval,
		Gap:      c.cfg.lsdGap,
		Logger:   c.log,
	})
	if err != nil {
		c.log.Warn("local service discovery is off", "err", err)
		return
	}
	c.lsd = svc
}

// lsdPeer routes a peer heard on the local network to its torrent: one we
// have, running and not private; anything else is dropped.
func (c *Client) lsdPeer(ih [20]byte, peer netip.AddrPort) {
	t, ok := c.Torrent(ih)
	if !ok || t.private() {
		return
	}
	t.AddPeers(peer)
}

// LSDStats returns the counters of local service discovery, and false when
// it is off.
func (c *Client) LSDStats() (lsd.Stats, bool) {
	if c.lsd == nil {
		return lsd.Stats{}, false
	}
	return c.lsd.Stats(), true
}
