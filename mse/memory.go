package mse

import (
	"container/list"
	"net/netip"
	"sync"
)

// DefaultMemorySize is how many addresses a Memory with Size 0 keeps.
const DefaultMemorySize = 4096

// Memory remembers, per peer address, that MSE failed there while plain
// BitTorrent worked, so that a Prefer Dialer tries plain first next time
// (and keeps trying MSE second, so a peer that starts requiring
// encryption is still reached). It is bounded: beyond Size addresses the
// least recently used is forgotten. The zero value is ready to use; a nil
// *Memory remembers nothing. Safe for concurrent use.
type Memory struct {
	// Size bounds the number of addresses kept (0: DefaultMemorySize).
	// Set it before first use.
	Size int

	mu    sync.Mutex
	byKey map[netip.AddrPort]*list.Element
	lru   list.List // of netip.AddrPort, most recent first
}

// PlainOnly reports whether addr is remembered as answering plain
// BitTorrent but not MSE.
func (m *Memory) PlainOnly(addr netip.AddrPort) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[addr]
	if ok {
		m.lru.MoveToFront(e)
	}
	return ok
}

// SetPlainOnly records what worked at addr: plainOnly true when only a
// plain handshake did, false when MSE did (which forgets the address,
// MSE being what Prefer tries first anyway). Dialer calls it; a client
// may also call it with what it learnt elsewhere.
func (m *Memory) SetPlainOnly(addr netip.AddrPort, plainOnly bool) { m.record(addr, plainOnly) }

func (m *Memory) record(addr netip.AddrPort, plainOnly bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[addr]
	switch {
	case ok && plainOnly:
		m.lru.MoveToFront(e)
	case ok:
		m.lru.Remove(e)
		delete(m.byKey, addr)
	case plainOnly:
		if m.byKey == nil {
			m.byKey = make(map[netip.AddrPort]*list.Element)
		}
		size := m.Size
		if size <= 0 {
			size = DefaultMemorySize
		}
		for m.lru.Len() >= size {
			old := m.lru.Back()
			m.lru.Remove(old)
			delete(m.byKey, old.Value.(netip.AddrPort))
		}
		m.byKey[addr] = m.lru.PushFront(addr)
	}
}

// Len returns how many addresses are remembered.
func (m *Memory) Len() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}
