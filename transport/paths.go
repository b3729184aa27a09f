package transport

import (
	"container/list"
	"net/netip"
	"sync"
)

// pathState is what a Dialer learnt of a peer's transports.
type pathState uint8

const (
	pathUnknown pathState = iota
	pathUTP               // uTP worked (or PEX said the peer speaks it)
	pathTCP               // uTP failed where TCP then worked
)

// maxPaths bounds the addresses a Dialer remembers.
const maxPaths = 4096

// paths remembers, per peer address, which transport worked, bounded: the
// least recently used address is forgotten beyond maxPaths. The zero
// value is ready; safe for concurrent use.
type paths struct {
	mu    sync.Mutex
	byKey map[netip.AddrPort]*list.Element
	lru   list.List // of pathEntry, most recent first
}

type pathEntry struct {
	addr  netip.AddrPort
	state pathState
}

func (p *paths) get(a netip.AddrPort) pathState {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.byKey[a]
	if !ok {
		return pathUnknown
	}
	p.lru.MoveToFront(e)
	return e.Value.(pathEntry).state
}

func (p *paths) set(a netip.AddrPort, st pathState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.byKey[a]; ok {
		e.Value = pathEntry{a, st}
		p.lru.MoveToFront(e)
		return
	}
	if p.byKey == nil {
		p.byKey = make(map[netip.AddrPort]*list.Element)
	}
	for p.lru.Len() >= maxPaths {
		old := p.lru.Back()
		p.lru.Remove(old)
		delete(p.byKey, old.Value.(pathEntry).addr)
	}
	p.byKey[a] = p.lru.PushFront(pathEntry{a, st})
}

func (p *paths) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lru.Len()
}
