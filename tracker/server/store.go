package server

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// Errors the store returns; their text is what a client sees as failure reason.
var (
	ErrTooManyTorrents = errors.New("tracker is full: too many torrents")
	ErrTooManyPeers    = errors.New("torrent is full: too many peers")
	ErrTrackerFull     = errors.New("tracker is full: too many peers")
	ErrNotAllowed      = errors.New("torrent not registered with this tracker")
)

// PeerInfo is one peer as the tracker knows it.
type PeerInfo struct {
	ID       [20]byte
	Addr     netip.AddrPort
	Seed     bool // left == 0
	LastSeen time.Time
}

// swarm is one torrent's peers. Peers live in a slice for uniform random
// sampling; byID indexes it for O(1) update and swap-delete.
type swarm struct {
	peers      []PeerInfo
	byID       map[[20]byte]int
	seeds      int
	downloaded int
	lastExpire time.Time // last full expiry scan
}

// store holds every swarm. One mutex: operations are short and bounded
// (numwant ≤ cap), so contention stays low at tracker request rates.
type store struct {
	mu       sync.Mutex
	swarms   map[[20]byte]*swarm
	total    int // peers over all swarms
	limits   limits
	rnd      *rand.Rand
	now      func() time.Time
	expireIn time.Duration
	// observe, when set (tests), sees every announce, under the lock.
	observe func(announceIn)
}

type limits struct {
	maxTorrents, maxPeersPerTorrent, maxPeers int
	allow                                     map[[20]byte]bool // nil = any
}

func newStore(l limits, expire time.Duration, now func() time.Time) *store {
	return &store{
		swarms:   make(map[[20]byte]*swarm),
		limits:   l,
		rnd:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		now:      now,
		expireIn: expire,
	}
}

// announceIn is what the store needs from an announce.
type announceIn struct {
	infoHash [20]byte
	peerID   [20]byte
	addr     netip.AddrPort
	left     int64
	event    uint32 // tracker.Event values
	numWant  int
}

type announceOut struct {
	peers                []PeerInfo
	complete, incomplete int
}

const (
	evNone      = 0
	evCompleted = 1
	evStarted   = 2
	evStopped   = 3
)

// announce records the peer and returns up to numWant other peers: never the
// peer itself (by id or address); seeds get only leechers.
func (s *store) announce(in announceIn) (announceOut, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limits.allow != nil && !s.limits.allow[in.infoHash] {
		return announceOut{}, ErrNotAllowed
	}
	if s.observe != nil {
		s.observe(in)
	}
	now := s.now()
	sw := s.swarms[in.infoHash]
	if in.event == evStopped {
		if sw != nil {
			s.remove(in.infoHash, sw, in.peerID)
			return announceOut{complete: sw.seeds, incomplete: len(sw.peers) - sw.seeds}, nil
		}
		return announceOut{}, nil
	}
	if sw == nil {
		if len(s.swarms) >= s.limits.maxTorrents {
			return announceOut{}, ErrTooManyTorrents
		}
		sw = &swarm{byID: make(map[[20]byte]int)}
		s.swarms[in.infoHash] = sw
	}
	if now.Sub(sw.lastExpire) >= s.expireIn/8 {
		s.expire(sw, now) // amortised: a full scan at most every expireIn/8
		sw.lastExpire = now
	}
	seed := in.left == 0
	if i, ok := sw.byID[in.peerID]; ok {
		p := &sw.peers[i]
		if p.Seed != seed {
			if seed {
				sw.seeds++
			} else {
				sw.seeds--
			}
		}
		p.Addr, p.Seed, p.LastSeen = in.addr, seed, now
	} else {
		if len(sw.peers) >= s.limits.maxPeersPerTorrent {
			s.dropIfEmpty(in.infoHash, sw)
			return announceOut{}, ErrTooManyPeers
		}
		if s.total >= s.limits.maxPeers {
			s.dropIfEmpty(in.infoHash, sw)
			return announceOut{}, ErrTrackerFull
		}
		sw.byID[in.peerID] = len(sw.peers)
		sw.peers = append(sw.peers, PeerInfo{ID: in.peerID, Addr: in.addr, Seed: seed, LastSeen: now})
		s.total++
		if seed {
			sw.seeds++
		}
	}
	if in.event == evCompleted {
		sw.downloaded++
	}
	out := announceOut{complete: sw.seeds, incomplete: len(sw.peers) - sw.seeds}
	out.peers = s.sample(sw, in, seed, now.Add(-s.expireIn))
	return out, nil
}

// sample picks up to in.numWant peers from a random starting point, so the
// cost is O(numWant) plus skipped entries. Peers last seen before cut are
// skipped even if no expiry scan has removed them yet.
func (s *store) sample(sw *swarm, in announceIn, seed bool, cut time.Time) []PeerInfo {
	n := len(sw.peers)
	if n <= 1 || in.numWant <= 0 {
		return nil
	}
	out := make([]PeerInfo, 0, min(in.numWant, n-1))
	start := s.rnd.IntN(n)
	for k := 0; k < n && len(out) < in.numWant; k++ {
		p := sw.peers[(start+k)%n]
		if p.ID == in.peerID || p.Addr == in.addr || (seed && p.Seed) || p.LastSeen.Before(cut) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func (s *store) remove(ih [20]byte, sw *swarm, id [20]byte) {
	i, ok := sw.byID[id]
	if !ok {
		return
	}
	s.removeAt(sw, i)
	s.dropIfEmpty(ih, sw)
}

func (s *store) removeAt(sw *swarm, i int) {
	p := sw.peers[i]
	if p.Seed {
		sw.seeds--
	}
	delete(sw.byID, p.ID)
	last := len(sw.peers) - 1
	if i != last {
		sw.peers[i] = sw.peers[last]
		sw.byID[sw.peers[i].ID] = i
	}
	sw.peers[last] = PeerInfo{}
	sw.peers = sw.peers[:last]
	s.total--
}

func (s *store) dropIfEmpty(ih [20]byte, sw *swarm) {
	if len(sw.peers) == 0 && sw.downloaded == 0 {
		delete(s.swarms, ih)
	}
}

// expire removes peers not seen for expireIn from one swarm.
func (s *store) expire(sw *swarm, now time.Time) {
	cut := now.Add(-s.expireIn)
	for i := 0; i < len(sw.peers); {
		if sw.peers[i].LastSeen.Before(cut) {
			s.removeAt(sw, i)
			continue
		}
		i++
	}
}

// sweep expires every swarm and forgets empty ones with no download count.
func (s *store) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for ih, sw := range s.swarms {
		s.expire(sw, now)
		s.dropIfEmpty(ih, sw)
	}
}

// scrape returns the stats of ih (zero when unknown).
func (s *store) scrape(ih [20]byte) (complete, incomplete, downloaded int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sw := s.swarms[ih]
	if sw == nil {
		return 0, 0, 0, false
	}
	return sw.seeds, len(sw.peers) - sw.seeds, sw.downloaded, true
}

// peers returns a snapshot of ih's peers.
func (s *store) peers(ih [20]byte) []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sw := s.swarms[ih]; sw != nil {
		return append([]PeerInfo(nil), sw.peers...)
	}
	return nil
}
