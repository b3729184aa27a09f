package pex

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// ErrTooFrequent is returned by Conn.Incoming for a message that arrives
// when the peer has already sent Config.FloodMessages messages within
// Config.FloodWindow: the message is ignored. BEP 11 allows one a minute.
var ErrTooFrequent = errors.New("pex: messages too frequent")

// Config tunes PEX. The zero value of every field selects the documented
// default.
type Config struct {
	// Interval is the least time between two of our messages to one peer
	// (BEP 11: once a minute). Default 60 s.
	Interval time.Duration
	// MaxAdded and MaxDropped cap the added and dropped peers of one
	// outgoing message (BEP 11: 50 each); the rest go in later messages.
	// Defaults 50.
	MaxAdded, MaxDropped int

	// MaxTake caps the added peers taken from one incoming message; the
	// rest are ignored. Default 100 (libtorrent sends up to 100).
	MaxTake int
	// MaxTakePerWindow caps the added peers taken from one peer per
	// Window. Defaults 200 per 10 minutes.
	MaxTakePerWindow int
	Window           time.Duration
	// FloodMessages and FloodWindow: an incoming message is ignored
	// (ErrTooFrequent) when FloodMessages messages were already accepted
	// from the peer within FloodWindow. Defaults 3 per 60 s: an honest
	// sender's first message may follow the handshake closely, and TCP can
	// bunch two.
	FloodMessages int
	FloodWindow   time.Duration

	// IsSelf reports whether an address is one of ours (our listening
	// address as peers see it: the "yourip" of their handshakes and our
	// port). Such peers are never taken. Nil means none.
	IsSelf func(netip.AddrPort) bool
	// Banned reports whether an address is banned. Such peers are never
	// taken. Nil means none.
	Banned func(netip.Addr) bool
}

func (c *Config) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	def(&c.Interval, time.Minute)
	def(&c.Window, 10*time.Minute)
	def(&c.FloodWindow, time.Minute)
	defInt(&c.MaxAdded, 50)
	defInt(&c.MaxDropped, 50)
	defInt(&c.MaxTake, 100)
	defInt(&c.MaxTakePerWindow, 200)
	defInt(&c.FloodMessages, 3)
	c.MaxAdded = min(c.MaxAdded, peerwire.MaxPexEntries)
	c.MaxDropped = min(c.MaxDropped, peerwire.MaxPexEntries)
	c.FloodMessages = min(c.FloodMessages, maxFlood)
}

// maxFlood bounds Config.FloodMessages (the ring of arrival times).
const maxFlood = 16

// Swarm is one torrent's PEX state: the peers it is connected to, as it
// tells them to other peers. It is not safe for concurrent use; the
// session's event loop owns it and its Conns.
type Swarm struct {
	cfg     Config
	list    []entry                // connected peers, in a stable order
	index   map[netip.AddrPort]int // address → position in list
	version uint64                 // bumped by every change to list
}

type entry struct {
	addr  netip.AddrPort
	flags peerwire.PexFlags
}

// NewSwarm returns the PEX state of one torrent. The caller must not
// create one for a private torrent (BEP 27): private torrents neither send
// nor take PEX.
func NewSwarm(cfg Config) *Swarm {
	cfg.fill()
	return &Swarm{cfg: cfg, index: map[netip.AddrPort]int{}}
}

// Connected records that we are connected to a peer reachable at addr
// (for a connection we made, its address; for one we accepted, the
// peer's address with the listening port from its extended handshake "p";
// without that, do not call Connected: the peer cannot be reached), with
// its flags (PexSeed once it has every piece, PexEncryption,
// PexUTP, PexHolepunch, PexReachable for connections we made). Calling it
// again updates the flags, which are not re-sent to peers already told.
// Invalid addresses and port 0 are ignored.
func (s *Swarm) Connected(addr netip.AddrPort, flags peerwire.PexFlags) {
	addr = canon(addr)
	if !addr.IsValid() || addr.Port() == 0 {
		return
	}
	if i, ok := s.index[addr]; ok {
		s.list[i].flags = flags
		return
	}
	s.index[addr] = len(s.list)
	s.list = append(s.list, entry{addr, flags})
	s.version++
}

// Disconnected records that the connection to the peer at addr (as given
// to Connected) closed.
func (s *Swarm) Disconnected(addr netip.AddrPort) {
	addr = canon(addr)
	i, ok := s.index[addr]
	if !ok {
		return
	}
	last := len(s.list) - 1
	s.list[i] = s.list[last]
	s.index[s.list[i].addr] = i
	s.list = s.list[:last]
	delete(s.index, addr)
	s.version++
}

// Len returns the number of connected peers recorded.
func (s *Swarm) Len() int { return len(s.list) }

// canon unmaps IPv4-mapped addresses so that one peer has one key.
func canon(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// Conn is the PEX state of one connection: what the peer has been told
// (outgoing) and what it has sent (incoming). Create it when the peer's
// extended handshake announces ut_pex; drop it with the connection.
type Conn struct {
	s      *Swarm
	remote netip.AddrPort // the peer's own address, never told to it
	told   map[netip.AddrPort]struct{}
	next   time.Duration // no message before this time
	synced uint64        // swarm version fully told, +1 (0: never)
	gone   []netip.AddrPort

	inTimes  [maxFlood]time.Duration // arrival times of accepted messages, a ring
	inCount  int                     // accepted messages recorded in inTimes
	inNext   int                     // next slot of the ring
	winStart time.Duration
	winTaken int
	winInit  bool
}

// NewConn returns the PEX state of a connection to the peer at remote
// (its reachable address, as given to Connected, or its connection
// address: it is only used to leave the peer out of what it is told and
// what it tells). The first message may be sent at once.
func (s *Swarm) NewConn(remote netip.AddrPort) *Conn {
	return &Conn{s: s, remote: canon(remote), told: map[netip.AddrPort]struct{}{}}
}

// Outgoing reports whether a message is due to the peer at now (the
// shell's monotonic clock) and, if so, fills dst (reset first) with the
// peers connected since the previous message (at most MaxAdded, with their
// flags) and those disconnected since (at most MaxDropped), and records
// them as told. No message is due before Interval has passed since the
// previous one, nor when there is no change to tell. Send dst with
// peerwire.AppendPex and the peer's ut_pex id. Call it about once a
// second; when nothing changed it costs a comparison.
func (c *Conn) Outgoing(now time.Duration, dst *peerwire.Pex) bool {
	s := c.s
	if now < c.next || c.synced == s.version+1 {
		return false
	}
	dst.Reset()
	complete := true
	for _, e := range s.list {
		if e.addr == c.remote {
			continue
		}
		if _, ok := c.told[e.addr]; ok {
			continue
		}
		if len(dst.Added) == s.cfg.MaxAdded {
			complete = false
			break
		}
		dst.Added = append(dst.Added, peerwire.PexPeer{Addr: e.addr, Flags: e.flags})
	}
	c.gone = c.gone[:0]
	for a := range c.told {
		if _, ok := s.index[a]; !ok {
			c.gone = append(c.gone, a)
		}
	}
	slices.SortFunc(c.gone, netip.AddrPort.Compare) // deterministic, whatever the map's order
	if len(c.gone) > s.cfg.MaxDropped {
		c.gone = c.gone[:s.cfg.MaxDropped]
		complete = false
	}
	dst.Dropped = append(dst.Dropped, c.gone...)
	if complete {
		c.synced = s.version + 1
	}
	if len(dst.Added) == 0 && len(dst.Dropped) == 0 {
		return false
	}
	for _, p := range dst.Added {
		c.told[p.Addr] = struct{}{}
	}
	for _, a := range dst.Dropped {
		delete(c.told, a)
	}
	c.next = now + s.cfg.Interval
	return true
}

// Incoming takes the usable added peers of a message the peer sent at now
// and appends them to dst, for the address book (which deduplicates and
// bounds itself). A peer is usable when its address is a valid unicast
// address with a non-zero port, not unspecified, multicast, broadcast or
// IPv6 link-local, not the sender's own, not ours (Config.IsSelf), not
// banned (Config.Banned) and not already taken from this message. At most
// MaxTake peers are taken from one message and MaxTakePerWindow per
// Window; the rest are ignored. Dropped peers are ignored (the address
// book keeps addresses that may be reached again). A message arriving too
// soon after others is ignored whole and ErrTooFrequent returned; the
// connection may stay.
func (c *Conn) Incoming(now time.Duration, m *peerwire.Pex, dst []peerwire.PexPeer) ([]peerwire.PexPeer, error) {
	cfg := &c.s.cfg
	if c.inCount >= cfg.FloodMessages {
		oldest := c.inTimes[(c.inNext-cfg.FloodMessages+maxFlood)%maxFlood]
		if now-oldest < cfg.FloodWindow {
			return dst, ErrTooFrequent
		}
	}
	c.inTimes[c.inNext] = now
	c.inNext = (c.inNext + 1) % maxFlood
	c.inCount = min(c.inCount+1, maxFlood)
	if !c.winInit || now-c.winStart >= cfg.Window {
		c.winInit, c.winStart, c.winTaken = true, now, 0
	}
	start, taken := len(dst), 0
	for _, p := range m.Added {
		if taken >= cfg.MaxTake || c.winTaken >= cfg.MaxTakePerWindow {
			break
		}
		p.Addr = canon(p.Addr)
		if !usable(p.Addr) || p.Addr == c.remote ||
			(cfg.IsSelf != nil && cfg.IsSelf(p.Addr)) ||
			(cfg.Banned != nil && cfg.Banned(p.Addr.Addr())) ||
			slices.ContainsFunc(dst[start:], func(q peerwire.PexPeer) bool { return q.Addr == p.Addr }) {
			continue
		}
		dst = append(dst, p)
		taken++
		c.winTaken++
	}
	return dst, nil
}

// usable reports whether a peer address can be dialled at all.
func usable(a netip.AddrPort) bool {
	ip := a.Addr()
	return ip.IsValid() && a.Port() != 0 && !ip.IsUnspecified() && !ip.IsMulticast() &&
		!ip.IsLinkLocalUnicast() && ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
