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
	// ErrTooManyFromYou refuses a new torrent to an address (an IPv4
	// address, or an IPv6 /64) that already created its share of them.
	ErrTooManyFromYou = errors.New("tracker: too many new torrents from your address")
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
	ih         [20]byte
	peers      []PeerInfo
	byID       map[[20]byte]int
	seeds      int
	downloaded int
	lastExpire time.Time // last full expiry scan
	// creator is the address key of the peer whose announce created the
	// swarm; it counts against that address's MaxTorrentsPerIP for as long
	// as the swarm lives.
	creator netip.Addr
	// The swarm is on one of the store's two recency lists (seeded, or
	// without a seeder), least recently announced first.
	prev, next *swarm
	seeded     bool // which list
}

// store holds every swarm. One mutex: operations are short and bounded
// (numwant ≤ cap), so contention stays low at tracker request rates.
type store struct {
	mu     sync.Mutex
	swarms map[[20]byte]*swarm
	total  int // peers over all swarms
	// created counts the live swarms each address key created (keys with
	// none are deleted, so it is no larger than swarms).
	created map[netip.Addr]int
	// seedless and seeded are the heads of circular recency lists
	// (sentinels): when the tracker is full, a new torrent evicts the
	// least recently announced swarm without a seeder.
	seedless, seeded swarm
	evicted          uint64
	limits           limits
	rnd              *rand.Rand
	now              func() time.Time
	expireIn         time.Duration
	// observe, when set (tests), sees every announce, under the lock.
	observe func(announceIn)
}

type limits struct {
	maxTorrents, maxPeersPerTorrent, maxPeers int
	maxTorrentsPerIP                          int               // 0 = no limit
	allow                                     map[[20]byte]bool // nil = any
}

func newStore(l limits, expire time.Duration, now func() time.Time) *store {
	s := &store{
		swarms:   make(map[[20]byte]*swarm),
		created:  make(map[netip.Addr]int),
		limits:   l,
		rnd:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		now:      now,
		expireIn: expire,
	}
	s.seedless.prev, s.seedless.next = &s.seedless, &s.seedless
	s.seeded.prev, s.seeded.next = &s.seeded, &s.seeded
	return s
}

// addrKey is what per-address limits count by: an IPv4 address, or the
// /64 of an IPv6 address (one host or home network usually holds a whole
// /64, so counting single IPv6 addresses would limit nothing).
func addrKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// announceIn is what the store needs from an announce.
type announceIn struct {
	infoHash [20]byte
	peerID   [20]byte
	addr     netip.AddrPort // the peer's address as told to others
	// from is the request's source address (addr may come from the "ip"
	// parameter); per-address limits count by it. Zero: addr's.
	from    netip.Addr
	left    int64
	event   uint32 // tracker.Event values
	numWant int
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
			s.remove(sw, in.peerID)
			return announceOut{complete: sw.seeds, incomplete: len(sw.peers) - sw.seeds}, nil
		}
		return announceOut{}, nil
	}
	if sw == nil {
		var err error
		if sw, err = s.create(in); err != nil {
			return announceOut{}, err
		}
	}
	if now.Sub(sw.lastExpire) >= s.expireIn/8 {
		s.expire(sw, now) // amortised: a full scan at most every expireIn/8
		s.relist(sw)
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
			s.dropIfEmpty(sw)
			return announceOut{}, ErrTooManyPeers
		}
		if s.total >= s.limits.maxPeers {
			s.dropIfEmpty(sw)
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
	s.touch(sw)
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

// create adds the swarm of a torrent not yet tracked, within the limits:
// the announcing address may create at most maxTorrentsPerIP live swarms,
// and a full tracker makes room by evicting the least recently announced
// swarm that has no seeder (so that a flood of made-up info-hashes cannot
// lock new torrents out: it can only displace other seederless swarms).
func (s *store) create(in announceIn) (*swarm, error) {
	from := in.from
	if !from.IsValid() {
		from = in.addr.Addr()
	}
	key := addrKey(from)
	if m := s.limits.maxTorrentsPerIP; m > 0 && s.created[key] >= m {
		return nil, ErrTooManyFromYou
	}
	if len(s.swarms) >= s.limits.maxTorrents {
		victim := s.seedless.next
		if victim == &s.seedless {
			return nil, ErrTooManyTorrents
		}
		s.drop(victim)
		s.evicted++
	}
	sw := &swarm{ih: in.infoHash, byID: make(map[[20]byte]int), creator: key}
	s.swarms[in.infoHash] = sw
	s.created[key]++
	s.link(sw)
	return sw, nil
}

// link puts sw at the back (most recent end) of the list its seeds select.
func (s *store) link(sw *swarm) {
	head := &s.seedless
	sw.seeded = sw.seeds > 0
	if sw.seeded {
		head = &s.seeded
	}
	sw.prev, sw.next = head.prev, head
	head.prev.next = sw
	head.prev = sw
}

func (s *store) unlink(sw *swarm) {
	sw.prev.next, sw.next.prev = sw.next, sw.prev
	sw.prev, sw.next = nil, nil
}

// touch marks sw as just announced.
func (s *store) touch(sw *swarm) {
	s.unlink(sw)
	s.link(sw)
}

// relist moves sw to the other list when it gained its first seeder or
// lost its last one (without counting as an announce otherwise).
func (s *store) relist(sw *swarm) {
	if sw.seeded != (sw.seeds > 0) {
		s.touch(sw)
	}
}

// drop forgets sw and its peers.
func (s *store) drop(sw *swarm) {
	s.total -= len(sw.peers)
	s.unlink(sw)
	delete(s.swarms, sw.ih)
	if n := s.created[sw.creator] - 1; n > 0 {
		s.created[sw.creator] = n
	} else {
		delete(s.created, sw.creator)
	}
}

func (s *store) remove(sw *swarm, id [20]byte) {
	i, ok := sw.byID[id]
	if !ok {
		return
	}
	s.removeAt(sw, i)
	s.relist(sw)
	s.dropIfEmpty(sw)
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

func (s *store) dropIfEmpty(sw *swarm) {
	if len(sw.peers) == 0 && sw.downloaded == 0 {
		s.drop(sw)
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
	for _, sw := range s.swarms {
		s.expire(sw, now)
		s.relist(sw)
		s.dropIfEmpty(sw)
	}
}

// setAllow replaces the allow-list (nil: any torrent) and forgets the
// swarms it no longer allows.
func (s *store) setAllow(allow map[[20]byte]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits.allow = allow
	if allow == nil {
		return
	}
	for ih, sw := range s.swarms {
		if !allow[ih] {
			s.drop(sw)
		}
	}
}

// counts returns the number of swarms, of peers, and of swarms evicted to
// make room so far.
func (s *store) counts() (torrents, peers int, evicted uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.swarms), s.total, s.evicted
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
