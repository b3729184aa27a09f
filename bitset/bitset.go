// Package bitset is a fixed-length set of small non-negative integers (piece
// indices), stored in 64-bit words. It is the in-memory form of "which
// pieces" that storage, the resume store and the client share; the peer wire
// bitfield (most significant bit first) is peerwire.Bitfield, and Bytes and
// FromBytes convert to and from that layout.
package bitset

import (
	"errors"
	"math/bits"
)

// Set holds the integers [0, Len()) that are members. The zero value is an
// empty set of length 0. A Set is a small header over its words: copies share
// them (use Clone for an independent copy). It is not safe for concurrent
// mutation.
type Set struct {
	w []uint64
	n int
}

// New returns an empty set of length n (n >= 0).
func New(n int) Set {
	return Set{w: make([]uint64, (n+63)/64), n: n}
}

// Len returns the set's length: members are in [0, Len()).
func (s Set) Len() int { return s.n }

// Has reports whether i is a member; false when i is out of range.
func (s Set) Has(i int) bool {
	if uint(i) >= uint(s.n) {
		return false
	}
	return s.w[i>>6]&(1<<(uint(i)&63)) != 0
}

// Set adds i; out-of-range values are ignored.
func (s Set) Set(i int) {
	if uint(i) < uint(s.n) {
		s.w[i>>6] |= 1 << (uint(i) & 63)
	}
}

// Clear removes i; out-of-range values are ignored.
func (s Set) Clear(i int) {
	if uint(i) < uint(s.n) {
		s.w[i>>6] &^= 1 << (uint(i) & 63)
	}
}

// SetAll adds every integer in [0, Len()).
func (s Set) SetAll() {
	for i := range s.w {
		s.w[i] = ^uint64(0)
	}
	if r := s.n % 64; r != 0 {
		s.w[len(s.w)-1] = 1<<r - 1
	}
}

// Count returns the number of members.
func (s Set) Count() int {
	c := 0
	for _, w := range s.w {
		c += bits.OnesCount64(w)
	}
	return c
}

// Complete reports whether every integer in [0, Len()) is a member.
func (s Set) Complete() bool { return s.Count() == s.n }

// Clone returns an independent copy.
func (s Set) Clone() Set {
	return Set{w: append([]uint64(nil), s.w...), n: s.n}
}

// Each calls f for every member in increasing order.
func (s Set) Each(f func(i int)) {
	for k, w := range s.w {
		for w != 0 {
			f(k*64 + bits.TrailingZeros64(w))
			w &= w - 1
		}
	}
}

// Bytes returns the set in the peer wire's bitfield layout: ceil(Len/8)
// bytes, member 0 in the most significant bit of byte 0, spare bits zero.
func (s Set) Bytes() []byte {
	b := make([]byte, (s.n+7)/8)
	s.Each(func(i int) { b[i>>3] |= 0x80 >> (i & 7) })
	return b
}

// ErrLength is returned by FromBytes for input of the wrong length or with
// spare bits set.
var ErrLength = errors.New("bitset: wrong length or spare bits set")

// FromBytes parses the layout Bytes writes for a set of length n.
func FromBytes(b []byte, n int) (Set, error) {
	if n < 0 || len(b) != (n+7)/8 {
		return Set{}, ErrLength
	}
	if r := n % 8; r != 0 && b[len(b)-1]&(0xff>>r) != 0 {
		return Set{}, ErrLength
	}
	s := New(n)
	for i, c := range b {
		for c != 0 {
			j := bits.LeadingZeros8(c)
			c &^= 0x80 >> j
			s.w[(i*8+j)>>6] |= 1 << (uint(i*8+j) & 63)
		}
	}
	return s, nil
}
