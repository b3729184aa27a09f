package dht

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

// PeerStore defaults.
const (
	DefaultPeersPerInfoHash = 100
	DefaultMaxInfoHashes    = 10000
	DefaultPeerTTL          = 30 * time.Minute
	DefaultPeersPerReply    = 50
)

// PeerStoreConfig bounds a PeerStore. Zero fields take the defaults.
type PeerStoreConfig struct {
	// PeersPerInfoHash caps the peers kept per info-hash (100, as
	// libtorrent's dht_max_peers); a new peer then replaces the one
	// announced longest ago.
	PeersPerInfoHash int
	// MaxInfoHashes caps the info-hashes kept (10000); announces for a new
	// info-hash are dropped while the store is full of live ones.
	MaxInfoHashes int
	// TTL is how long an announce is kept without being renewed (30 min,
	// BEP 5's expiry).
	TTL time.Duration
	// PeersPerReply caps the peers returned for one get_peers (50: a
	// random sample when there are more), which keeps answers inside one
	// UDP datagram and small next to the query.
	PeersPerReply int
	// Now is the clock (time.Now).
	Now func() time.Time
}

// PeerStore keeps the peers that other nodes announce to us (announce_peer)
// and serves them to get_peers. It is bounded in every dimension (see
// PeerStoreConfig) and refuses unusable addresses (invalid IPs, port 0,
// unspecified or multicast addresses). It implements the peer store
// interface of github.com/anacrolix/dht/v2, whose own InMemory store of
// v2.23.0 returns nothing. Its methods are safe for concurrent use.
type PeerStore struct {
	cfg PeerStoreConfig

	mu        sync.Mutex
	swarms    map[[20]byte]*swarm
	peers     int       // total across swarms
	lastPurge time.Time // purges of a full store run at most once a second
	refused   uint64
}

type swarm struct {
	peers map[netip.AddrPort]time.Time // when each was last announced
}

// NewPeerStore returns an empty store.
func NewPeerStore(cfg PeerStoreConfig) *PeerStore {
	if cfg.PeersPerInfoHash <= 0 {
		cfg.PeersPerInfoHash = DefaultPeersPerInfoHash
	}
	if cfg.MaxInfoHashes <= 0 {
		cfg.MaxInfoHashes = DefaultMaxInfoHashes
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultPeerTTL
	}
	if cfg.PeersPerReply <= 0 {
		cfg.PeersPerReply = DefaultPeersPerReply
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &PeerStore{cfg: cfg, swarms: make(map[[20]byte]*swarm)}
}

// Add records that peer announced itself for infoHash. It reports whether
// the peer was stored: false for an unusable address, or a new info-hash
// while the store is full.
func (ps *PeerStore) Add(infoHash [20]byte, peer netip.AddrPort) bool {
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !usableAddr(peer, false) {
		ps.mu.Lock()
		ps.refused++
		ps.mu.Unlock()
		return false
	}
	now := ps.cfg.Now()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	sw := ps.swarms[infoHash]
	if sw == nil {
		if len(ps.swarms) >= ps.cfg.MaxInfoHashes && now.Sub(ps.lastPurge) >= time.Second {
			ps.lastPurge = now
			ps.purgeLocked(now)
		}
		if len(ps.swarms) >= ps.cfg.MaxInfoHashes {
			ps.refused++
			return false
		}
		sw = &swarm{peers: make(map[netip.AddrPort]time.Time)}
		ps.swarms[infoHash] = sw
	}
	if _, ok := sw.peers[peer]; !ok {
		if len(sw.peers) >= ps.cfg.PeersPerInfoHash {
			ps.evictOldestLocked(sw, now)
		}
		ps.peers++
	}
	sw.peers[peer] = now
	return true
}

// evictOldestLocked removes the expired peers of sw, or else its oldest.
func (ps *PeerStore) evictOldestLocked(sw *swarm, now time.Time) {
	var oldest netip.AddrPort
	var oldestAt time.Time
	for p, at := range sw.peers {
		if now.Sub(at) > ps.cfg.TTL {
			delete(sw.peers, p)
			ps.peers--
			continue
		}
		if !oldest.IsValid() || at.Before(oldestAt) {
			oldest, oldestAt = p, at
		}
	}
	if len(sw.peers) >= ps.cfg.PeersPerInfoHash {
		delete(sw.peers, oldest)
		ps.peers--
	}
}

// purgeLocked drops every expired peer and every empty swarm.
func (ps *PeerStore) purgeLocked(now time.Time) {
	for ih, sw := range ps.swarms {
		for p, at := range sw.peers {
			if now.Sub(at) > ps.cfg.TTL {
				delete(sw.peers, p)
				ps.peers--
			}
		}
		if len(sw.peers) == 0 {
			delete(ps.swarms, ih)
		}
	}
}

// Purge drops expired peers and empty info-hashes now (Add does it lazily).
func (ps *PeerStore) Purge() {
	now := ps.cfg.Now()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.purgeLocked(now)
}

// Peers returns up to PeersPerReply live peers of infoHash, a random sample
// when there are more.
func (ps *PeerStore) Peers(infoHash [20]byte) []netip.AddrPort {
	now := ps.cfg.Now()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	sw := ps.swarms[infoHash]
	if sw == nil {
		return nil
	}
	out := make([]netip.AddrPort, 0, min(len(sw.peers), ps.cfg.PeersPerReply))
	seen := 0
	for p, at := range sw.peers {
		if now.Sub(at) > ps.cfg.TTL {
			delete(sw.peers, p)
			ps.peers--
			continue
		}
		// Reservoir sampling: every live peer equally likely.
		seen++
		if len(out) < ps.cfg.PeersPerReply {
			out = append(out, p)
		} else if j := rand.IntN(seen); j < len(out) {
			out[j] = p
		}
	}
	if len(sw.peers) == 0 {
		delete(ps.swarms, infoHash)
	}
	return out
}

// PeerStoreStats is a snapshot of a PeerStore's size.
type PeerStoreStats struct {
	InfoHashes int    // info-hashes with at least one peer (expired ones may count until purged)
	Peers      int    // peers across them
	Refused    uint64 // announces dropped: unusable address, or store full
}

// Stats returns the store's size.
func (ps *PeerStore) Stats() PeerStoreStats {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return PeerStoreStats{InfoHashes: len(ps.swarms), Peers: ps.peers, Refused: ps.refused}
}

// AddPeer implements the anacrolix/dht peer store interface (Add).
func (ps *PeerStore) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	if na.Port <= 0 || na.Port > 65535 {
		ps.mu.Lock()
		ps.refused++
		ps.mu.Unlock()
		return
	}
	ps.Add(ih, netip.AddrPortFrom(ipAddr(na.IP), uint16(na.Port)))
}

// GetPeers implements the anacrolix/dht peer store interface (Peers).
func (ps *PeerStore) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	peers := ps.Peers(ih)
	if len(peers) == 0 {
		return nil
	}
	out := make([]krpc.NodeAddr, len(peers))
	for i, p := range peers {
		a := p.Addr()
		var ip net.IP
		if a.Is4() {
			b := a.As4()
			ip = net.IP(b[:])
		} else {
			b := a.As16()
			ip = net.IP(b[:])
		}
		out[i] = krpc.NodeAddr{IP: ip, Port: int(p.Port())}
	}
	return out
}

var _ peer_store.Interface = (*PeerStore)(nil)
