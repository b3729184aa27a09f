package storage

import (
	"container/list"
	"fmt"
	"sync"
)

// ReadCache serves blocks for uploading from whole pieces kept in memory:
// the first request for a piece reads all of it (peers ask for a piece's
// blocks in order), later requests are copies from memory. It holds at most
// MaxBytes of piece data, evicting the least recently used piece. Safe for
// concurrent use.
type ReadCache struct {
	s        *Storage
	maxBytes int64

	mu     sync.Mutex
	bytes  int64
	lru    list.List // of *cachedPiece, least recently used first
	pieces map[int]*list.Element
	spare  []byte // an evicted buffer, reused for the next piece of its size
	hits   int64
	misses int64
}

type cachedPiece struct {
	index int
	data  []byte
}

// NewReadCache returns a cache over s holding at most maxBytes of pieces.
// Pieces larger than maxBytes are read block by block, uncached.
func NewReadCache(s *Storage, maxBytes int64) *ReadCache {
	return &ReadCache{s: s, maxBytes: maxBytes, pieces: make(map[int]*list.Element)}
}

// ReadBlock fills buf with piece index's bytes from begin, like
// Storage.ReadBlock, from memory when the piece is cached.
func (c *ReadCache) ReadBlock(index int, begin int64, buf []byte) error {
	plen := c.s.PieceLen(index)
	if plen == 0 || begin < 0 || begin+int64(len(buf)) > plen {
		return c.s.rangeErr("read", index, begin, int64(len(buf)))
	}
	if plen > c.maxBytes {
		return c.s.ReadBlock(index, begin, buf)
	}
	c.mu.Lock()
	if e, ok := c.pieces[index]; ok {
		c.lru.MoveToBack(e)
		copy(buf, e.Value.(*cachedPiece).data[begin:])
		c.hits++
		c.mu.Unlock()
		return nil
	}
	c.misses++
	data := c.spare
	c.spare = nil
	c.mu.Unlock()

	if int64(cap(data)) < plen {
		data = make([]byte, plen)
	}
	data = data[:plen]
	if err := c.s.ReadPiece(index, data); err != nil {
		return err
	}
	copy(buf, data[begin:])

	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pieces[index]; ok {
		return nil // another reader cached it meanwhile
	}
	for c.bytes+plen > c.maxBytes {
		e := c.lru.Front()
		old := c.lru.Remove(e).(*cachedPiece)
		delete(c.pieces, old.index)
		c.bytes -= int64(len(old.data))
		c.spare = old.data
	}
	c.pieces[index] = c.lru.PushBack(&cachedPiece{index: index, data: data})
	c.bytes += plen
	return nil
}

// Invalidate drops piece index from the cache (call it if the piece's data
// on disk changes).
func (c *ReadCache) Invalidate(index int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.pieces[index]; ok {
		c.bytes -= int64(len(c.lru.Remove(e).(*cachedPiece).data))
		delete(c.pieces, index)
	}
}

// CacheStats is a snapshot of a ReadCache's counters.
type CacheStats struct {
	Bytes, Hits, Misses int64
	Pieces              int
}

// Stats returns the cache's counters.
func (c *ReadCache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Bytes: c.bytes, Hits: c.hits, Misses: c.misses, Pieces: len(c.pieces)}
}

func (c CacheStats) String() string {
	return fmt.Sprintf("%d pieces, %d bytes, %d hits, %d misses", c.Pieces, c.Bytes, c.Hits, c.Misses)
}
