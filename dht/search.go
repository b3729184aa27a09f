package dht

import (
	"context"
	"net/netip"

	adht "github.com/anacrolix/dht/v2"
)

// DefaultMaxPeers bounds the distinct peers one search collects.
const DefaultMaxPeers = 1000

// maxResponders bounds the answering nodes one search lists.
const maxResponders = 1000

// SearchOptions configures a search (get_peers traversal).
type SearchOptions struct {
	// AnnouncePort, when non-zero, makes the search end with announce_peer
	// of this port to the closest nodes that answered (with their tokens).
	AnnouncePort uint16
	// ImpliedPort asks those nodes to use the source port of our query
	// instead (BEP 5 implied_port: right when the peer port is the DHT's
	// own UDP port, as with uTP behind NAT).
	ImpliedPort bool
	// OnPeers, when set, receives the new distinct peers of each answer as
	// it arrives, on the calling goroutine, so the caller gets the first
	// peers long before the search ends. It must not block for long.
	OnPeers func([]netip.AddrPort)
	// MaxPeers bounds the distinct peers collected (DefaultMaxPeers);
	// later ones are dropped.
	MaxPeers int
}

// SearchResult is what one search found.
type SearchResult struct {
	Peers      []netip.AddrPort // distinct peers found (usable under the node's policy)
	Responders []NodeInfo       // nodes that answered, in order (at most 1000)
	Tried      int              // addresses queried
	Responses  int              // answers received
}

// Search runs one get_peers traversal for infoHash toward the nodes
// closest to it, collecting peers as they come, and announces us to the
// closest nodes when opts asks. It returns when the traversal has no one
// left to ask (and the announces are done) or ctx ends; then it returns
// what was found so far with ctx's error. Peers at addresses the node's
// policy refuses (local addresses on the public DHT, port 0) are dropped.
// Never call it for a private torrent (BEP 27): the client must keep
// those off the DHT.
func (n *Node) Search(ctx context.Context, infoHash [20]byte, opts SearchOptions) (SearchResult, error) {
	var res SearchResult
	if n.closed.Load() {
		return res, ErrClosed
	}
	if opts.MaxPeers <= 0 {
		opts.MaxPeers = DefaultMaxPeers
	}
	var aopts []adht.AnnounceOpt
	if opts.AnnouncePort != 0 || opts.ImpliedPort {
		aopts = append(aopts, adht.AnnouncePeer(adht.AnnouncePeerOpts{Port: int(opts.AnnouncePort), ImpliedPort: opts.ImpliedPort}))
	}
	a, err := n.srv.AnnounceTraversal(infoHash, aopts...)
	if err != nil {
		return res, err
	}
	defer a.Close()
	seen := make(map[netip.AddrPort]struct{})
	var err2 error
	peersCh := a.Peers
	for peersCh != nil {
		select {
		case pv, ok := <-peersCh:
			if !ok {
				peersCh = nil
				break
			}
			if len(res.Responders) < maxResponders {
				ap := pv.NodeInfo.Addr.ToNodeAddrPort().AddrPort
				res.Responders = append(res.Responders, NodeInfo{ID: pv.NodeInfo.ID, Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())})
			}
			var fresh []netip.AddrPort
			for _, p := range pv.Peers {
				if p.Port <= 0 || p.Port >= 1<<16 {
					continue
				}
				ap := netip.AddrPortFrom(ipAddr(p.IP), uint16(p.Port))
				if !usableAddr(ap, n.public) {
					continue
				}
				if _, dup := seen[ap]; dup || len(seen) >= opts.MaxPeers {
					continue
				}
				seen[ap] = struct{}{}
				fresh = append(fresh, ap)
			}
			if len(fresh) > 0 {
				res.Peers = append(res.Peers, fresh...)
				if opts.OnPeers != nil {
					opts.OnPeers(fresh)
				}
			}
		case <-ctx.Done():
			err2 = ctx.Err()
			a.Close()
			for range peersCh { // the traversal closes it once stopped
			}
			peersCh = nil
		}
	}
	st := a.TraversalStats()
	res.Tried, res.Responses = int(st.NumAddrsTried), int(st.NumResponses)
	return res, err2
}
