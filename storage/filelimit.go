package storage

import (
	"sync"
	"sync/atomic"
)

// FileLimit caps the data files open at once across every Storage that
// shares it (Options.Files): a client with thousands of torrents keeps a
// bounded number of descriptors whatever its peers ask for. Each Storage
// still has its own cap (Options.MaxOpenFiles) and its own least recently
// used list; when the shared cap is reached, a Storage that needs a file
// closes one of its own idle files, else one idle in another Storage
// (taking turns among them), else waits for a file to be released. Files
// in use (a read, a write, a sendfile in progress) are never closed.
//
// A FileLimit is safe for concurrent use; its zero value is not usable
// (NewFileLimit).
type FileLimit struct {
	mu     sync.Mutex
	cond   sync.Cond
	max    int
	open   int
	peak   int    // most open at once (for tests)
	gen    uint64 // bumped whenever a slot frees
	caches map[*fileCache]struct{}
	next   int          // where the next reclaim starts looking
	waits  atomic.Int32 // reclaims waiting: releases must wake them
}

// NewFileLimit returns a limit of n open files (at least 1).
func NewFileLimit(n int) *FileLimit {
	l := &FileLimit{max: max(n, 1), caches: make(map[*fileCache]struct{})}
	l.cond.L = &l.mu
	return l
}

// Open reports how many files are open under the limit now.
func (l *FileLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// take claims a slot if one is free. It is called with a cache's lock
// held: the lock order is cache, then limit, never the other way.
func (l *FileLimit) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		return false
	}
	l.open++
	l.peak = max(l.peak, l.open)
	return true
}

// give returns a slot.
func (l *FileLimit) give() {
	l.mu.Lock()
	l.open--
	l.gen++
	l.mu.Unlock()
	l.cond.Broadcast()
}

// poke wakes waiting reclaims: a file became idle, so one may be closed.
// It costs an atomic load when nobody waits (the common case: it runs on
// every release of a file).
func (l *FileLimit) poke() {
	if l.waits.Load() == 0 {
		return
	}
	l.mu.Lock()
	l.gen++
	l.mu.Unlock()
	l.cond.Broadcast()
}

func (l *FileLimit) register(c *fileCache) {
	l.mu.Lock()
	l.caches[c] = struct{}{}
	l.mu.Unlock()
}

func (l *FileLimit) unregister(c *fileCache) {
	l.mu.Lock()
	delete(l.caches, c)
	l.mu.Unlock()
}

// reclaim frees a slot for self, which holds no idle file of its own: it
// closes an idle file of another Storage, or waits until some file is
// released or becomes idle (the caller then tries again). It is called without any cache's lock held (it takes other
// caches' locks, which must never nest).
func (l *FileLimit) reclaim(self *fileCache) {
	l.mu.Lock()
	if l.open < l.max {
		l.mu.Unlock()
		return
	}
	gen := l.gen
	others := make([]*fileCache, 0, len(l.caches))
	for c := range l.caches {
		if c != self {
			others = append(others, c)
		}
	}
	start := l.next
	l.next++
	l.mu.Unlock()
	for i := range others {
		if others[(start+i)%len(others)].evictIdle() {
			return
		}
	}
	l.mu.Lock()
	l.waits.Add(1)
	for l.gen == gen && l.open >= l.max {
		l.cond.Wait()
	}
	l.waits.Add(-1)
	l.mu.Unlock()
}
