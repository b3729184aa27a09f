package client

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/dht"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
)

// NodesFile is the file in the data directory where the DHT's routing table
// is saved.
const NodesFile = "dht.nodes"

// dhtBootstrapWait bounds how long a torrent's first DHT search waits for
// the node's first bootstrap (a search from an empty routing table finds
// nothing and would retry only after 15 s).
const dhtBootstrapWait = 30 * time.Second

// startDHT starts the client's DHT node on the listener's first uTP socket
// (the IPv4 one where there is one), unless Config.NoDHT. A bad bootstrap
// address fails New; any other failure leaves the client without a DHT
// (logged).
func (c *Client) startDHT(ctx context.Context) error {
	if c.cfg.NoDHT {
		return nil
	}
	socks := c.listener.UTPSockets()
	if len(socks) == 0 {
		c.log.Warn("no UDP socket: the DHT is off")
		return nil
	}
	n, err := dht.New(ctx, dht.Config{
		Conn:      socks[0].PacketConn(),
		Bootstrap: c.cfg.DHTBootstrap,
		Nodes:     dht.NodesFile(filepath.Join(c.cfg.DataDir, NodesFile)),
		Logger:    c.log,
	})
	if errors.Is(err, dht.ErrBadBootstrap) {
		return err
	}
	if err != nil {
		c.log.Warn("the DHT is off", "err", err)
		return nil
	}
	c.dht = n
	return nil
}

// DHT returns the client's DHT node, or nil (Config.NoDHT, or it could not
// start). Do not close it.
func (c *Client) DHT() *dht.Node { return c.dht }

// dhtPort is our DHT node's port for the BEP 5 PORT message (0: no DHT).
func (c *Client) dhtPort() uint16 {
	if c.dht == nil {
		return 0
	}
	return c.dht.Addr().Port()
}

// onPort hands the DHT node a peer told us of (its PORT message) to our
// node, which pings it and adds it if it answers (refused addresses and a
// full queue of pings drop it).
func (c *Client) onPort(addr netip.AddrPort) {
	if c.dht != nil {
		_ = c.dht.AddNode(addr)
	}
}

// discovery is what finds a running torrent's peers besides its trackers:
// its DHT announcer (started once the node has bootstrapped) and its place
// in LSD. Private torrents (BEP 27) get neither.
type discovery struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the starter goroutine has returned
	lsd    bool          // added to the LSD service

	mu  sync.Mutex
	ann *dht.Announcer
}

// discover starts finding peers for t's session s: the DHT announcer and
// LSD, for a torrent that is not private (a magnet's, whose info is not
// known yet, until it turns out private). It does not block; t.mu is held.
func (c *Client) discover(t *Torrent, s *session.Session) *discovery {
	if isPrivate(t.mi) || c.dht == nil && c.lsd == nil {
		return nil
	}
	d := &discovery{done: make(chan struct{})}
	if c.lsd != nil {
		c.lsd.Add(t.infoHash)
		d.lsd = true
	}
	if c.dht == nil {
		close(d.done)
		return d
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		defer close(d.done)
		wait, cancelWait := context.WithTimeout(ctx, dhtBootstrapWait)
		c.dht.WaitBootstrap(wait)
		cancelWait()
		if ctx.Err() != nil {
			return
		}
		maxPeers := c.cfg.MaxPeersPerTorrent
		a, err := dht.StartAnnouncer(ctx, dht.AnnouncerConfig{
			Node:     c.dht,
			InfoHash: t.infoHash,
			Port:     c.listener.Addr().Port(),
			OnPeers:  func(peers []netip.AddrPort) { s.AddPeers(peers...) },
			Want: func() int {
				st := s.Stats()
				if st.Phase == session.Seeding {
					return 0 // announcing every 15 min is enough
				}
				return max(maxPeers-st.Peers, 0) // downloading, checking or fetching a magnet's metadata
			},
			Logger: c.log.With("torrent", fmt.Sprintf("%x", t.infoHash[:6])),
		})
		if err != nil {
			c.log.Warn("not on the DHT", "torrent", t.Name(), "err", err)
			return
		}
		d.mu.Lock()
		d.ann = a
		d.mu.Unlock()
	}()
	return d
}

// stop ends the torrent's discovery: no peers are delivered to its session
// after it returns.
func (d *discovery) stop(ctx context.Context, c *Client, ih [20]byte) {
	if d == nil {
		return
	}
	if d.lsd {
		c.lsd.Remove(ih)
	}
	if d.cancel != nil {
		d.cancel()
	}
	<-d.done
	d.mu.Lock()
	a := d.ann
	d.mu.Unlock()
	if a != nil {
		a.Stop(ctx)
	}
}

// DHTStatus returns the torrent's DHT announcer's status, and false when it
// has none (no DHT, a private torrent, not running, or the node still
// bootstrapping).
func (t *Torrent) DHTStatus() (dht.AnnouncerStatus, bool) {
	t.mu.Lock()
	d := t.disc
	t.mu.Unlock()
	if d == nil {
		return dht.AnnouncerStatus{}, false
	}
	d.mu.Lock()
	a := d.ann
	d.mu.Unlock()
	if a == nil {
		return dht.AnnouncerStatus{}, false
	}
	return a.Status(), true
}

// private reports whether the torrent is private (BEP 27): it never
// touches the DHT, LSD or PEX.
func (t *Torrent) private() bool { return isPrivate(t.MetaInfo()) }

func isPrivate(mi *metainfo.MetaInfo) bool { return mi != nil && mi.Info.Private }

// stopDiscovery ends the discovery of the torrent's session (t.op is held,
// or its metadata just said it is private).
func (t *Torrent) stopDiscovery(ctx context.Context) {
	t.mu.Lock()
	d := t.disc
	t.disc = nil
	t.mu.Unlock()
	d.stop(ctx, t.c, t.infoHash)
}

// closeDiscovery closes LSD and the DHT node (saving its routing table),
// after every torrent stopped.
func (c *Client) closeDiscovery() {
	if c.lsd != nil {
		c.lsd.Close()
	}
	if c.dht != nil {
		if err := c.dht.Close(); err != nil {
			c.log.Warn("closing the DHT", "err", err)
		}
	}
}
