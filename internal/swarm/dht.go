package swarm

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/dht"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
)

// DefaultDHTNodes is the size of the loopback DHT of a trackerless run.
const DefaultDHTNodes = 16

// maxDHTNodes bounds Config.DHTNodes.
const maxDHTNodes = 500

// trackerless is a run's DHT: a loopback DHT of in-process nodes and, for
// every session, an announcer (dht.Announcer, as the client runs one per
// torrent) on one of them: the seeders announce themselves, the leechers
// search and announce, and the peers they find go to their sessions.
type trackerless struct {
	cl  *dht.Cluster
	log *slog.Logger

	mu   sync.Mutex
	anns []*dht.Announcer
	next int
}

func startTrackerless(ctx context.Context, n int, log *slog.Logger) (*trackerless, error) {
	cl, err := dht.StartCluster(ctx, n, "127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("swarm: the loopback DHT: %w", err)
	}
	return &trackerless{cl: cl, log: log}, nil
}

// announce keeps s on the DHT (announcing its port, delivering the peers
// found), from the next node of the cluster.
func (d *trackerless) announce(ctx context.Context, s *session.Session) error {
	d.mu.Lock()
	node := d.cl.Nodes[d.next%len(d.cl.Nodes)]
	d.next++
	d.mu.Unlock()
	a, err := dht.StartAnnouncer(ctx, dht.AnnouncerConfig{
		Node:     node,
		InfoHash: s.InfoHash(),
		Port:     s.Addr().Port(),
		OnPeers:  func(peers []netip.AddrPort) { s.AddPeers(peers...) },
		Want: func() int {
			if st := s.Stats(); st.Phase == session.Seeding {
				return 0
			}
			return session.DefaultMaxPeers
		},
		// A demo's DHT answers at once: search again soon while wanting.
		MinInterval: 2 * time.Second,
		FewInterval: 5 * time.Second,
		RetryBase:   time.Second,
		Logger:      d.log,
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.anns = append(d.anns, a)
	d.mu.Unlock()
	return nil
}

// awaitSeeds searches the DHT until every seeder's address is among the
// peers of ih.
func (d *trackerless) awaitSeeds(ctx context.Context, ih [20]byte, seeds []netip.AddrPort) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	node := d.cl.Nodes[len(d.cl.Nodes)-1]
	for {
		res, _ := node.Search(ctx, ih, dht.SearchOptions{})
		found := 0
		for _, want := range seeds {
			for _, p := range res.Peers {
				if p == want {
					found++
					break
				}
			}
		}
		if found == len(seeds) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("swarm: waiting for the seeders' DHT announce: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// close stops the announcers, then the nodes.
func (d *trackerless) close() {
	d.mu.Lock()
	anns := d.anns
	d.anns = nil
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range anns {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			a.Stop(ctx)
		})
	}
	wg.Wait()
	d.cl.Close()
}

// bareMagnet is the magnet link of ih with nothing else in it.
func bareMagnet(ih [20]byte) (*metainfo.Magnet, error) {
	return metainfo.ParseMagnetOrHash(hex.EncodeToString(ih[:]))
}
