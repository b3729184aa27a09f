package session

import (
	"net/netip"
)

// maxBookSize caps the remembered addresses of a torrent.
const maxBookSize = 2000

type addrState uint8

const (
	addrQueued addrState = iota + 1 // waiting in the dial queue
	addrActive                      // an outgoing connection process runs for it
	addrIdle                        // its process gave up; a fresh sighting re-queues it
	addrDead                        // never again (ourselves, banned, misbehaved)
)

// addrBook remembers the peer addresses a session learned (trackers,
// Config.Peers, AddPeers) and which are worth dialing. Owned by the
// session goroutine.
type addrBook struct {
	recs  map[netip.AddrPort]addrState
	queue []netip.AddrPort
	bans  map[netip.AddrPort]struct{} // see banKey
}

func newAddrBook() *addrBook {
	return &addrBook{recs: make(map[netip.AddrPort]addrState), bans: make(map[netip.AddrPort]struct{})}
}

// add queues an address; active, dead, banned or unusable ones are
// ignored.
func (b *addrBook) add(a netip.AddrPort) {
	if !a.IsValid() || a.Port() == 0 || a.Addr().IsUnspecified() || a.Addr().IsMulticast() {
		return
	}
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if b.banned(a) {
		return
	}
	st, ok := b.recs[a]
	switch {
	case !ok && len(b.recs) >= maxBookSize:
		return
	case !ok, st == addrIdle:
		b.recs[a] = addrQueued
		b.queue = append(b.queue, a)
	}
}

// next pops the next address to dial and marks it active.
func (b *addrBook) next() (netip.AddrPort, bool) {
	for len(b.queue) > 0 {
		a := b.queue[0]
		b.queue = b.queue[1:]
		if b.recs[a] == addrQueued {
			b.recs[a] = addrActive
			return a, true
		}
	}
	return netip.AddrPort{}, false
}

// done records that a's process gave up: for good (final), or until a
// fresh sighting re-queues it.
func (b *addrBook) done(a netip.AddrPort, final bool) {
	if b.recs[a] == addrDead {
		return
	}
	if final {
		b.recs[a] = addrDead
	} else {
		b.recs[a] = addrIdle
	}
}

func (b *addrBook) markDead(a netip.AddrPort) {
	if _, ok := b.recs[a]; ok {
		b.recs[a] = addrDead
	}
}

// banKey is what a ban applies to: the whole IP address, except on
// loopback where every peer of a test shares 127.0.0.1 and only the
// address and port identify the offender.
func banKey(a netip.AddrPort) netip.AddrPort {
	ip := a.Addr().Unmap()
	if ip.IsLoopback() {
		return netip.AddrPortFrom(ip, a.Port())
	}
	return netip.AddrPortFrom(ip, 0)
}

func (b *addrBook) ban(a netip.AddrPort) {
	k := banKey(a)
	b.bans[k] = struct{}{}
	for ra := range b.recs {
		if banKey(ra) == k {
			b.recs[ra] = addrDead
		}
	}
}

func (b *addrBook) banned(a netip.AddrPort) bool {
	_, ok := b.bans[banKey(a)]
	return ok
}
