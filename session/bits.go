package session

import (
	"github.com/effusion-bt/effusion/bitset"

	"math/bits"
	"sync/atomic"
)

// atomicBits is a fixed-size bit set that one goroutine (the session) sets
// and many (peer readers and writers) read without locks: the pieces we
// have, consulted before serving a request.
type atomicBits struct {
	w []atomic.Uint64
	n int
}

func newAtomicBits(n int) *atomicBits {
	return &atomicBits{w: make([]atomic.Uint64, (n+63)/64), n: n}
}

// Has reports whether bit i is set; false when i is out of range.
func (b *atomicBits) Has(i int) bool {
	if uint(i) >= uint(b.n) {
		return false
	}
	return b.w[i>>6].Load()&(1<<(uint(i)&63)) != 0
}

// Set sets bit i (i must be in range).
func (b *atomicBits) Set(i int) { b.w[i>>6].Or(1 << (uint(i) & 63)) }

// Count returns the number of bits set.
func (b *atomicBits) Count() int {
	c := 0
	for i := range b.w {
		c += bits.OnesCount64(b.w[i].Load())
	}
	return c
}

// snapshot returns the set as it is now.
func (b *atomicBits) snapshot() bitset.Set {
	s := bitset.New(b.n)
	for i := range b.n {
		if b.Has(i) {
			s.Set(i)
		}
	}
	return s
}
