package peerwire

import "math/bits"

// Bitfield is a set of piece indices [0, Len()), stored as the wire format
// stores it: most significant bit of byte 0 is piece 0, and the spare bits
// of the last byte are zero. The zero value is an empty bitfield of length
// 0. A Bitfield is a small header over a byte slice: copies share the bits
// (use Clone for an independent copy). It is not safe for concurrent
// mutation.
type Bitfield struct {
	b []byte
	n int
}

// NewBitfield returns a bitfield of n pieces, all clear. It panics if n is
// negative.
func NewBitfield(n int) Bitfield {
	return Bitfield{b: make([]byte, (n+7)/8), n: n}
}

// ParseBitfield wraps b (without copying) as a bitfield of n pieces after
// checking that len(b) == ceil(n/8) and that the spare bits are zero. The
// error is a [*ProtocolError] wrapping [ErrBadBitfield].
func ParseBitfield(b []byte, n int) (Bitfield, error) {
	if n < 0 || len(b) != (n+7)/8 {
		return Bitfield{}, protoErr(MsgBitfield, "length", int64(len(b)), int64((n+7)/8), ErrBadBitfield)
	}
	if spare := n % 8; spare != 0 && b[len(b)-1]&(0xff>>spare) != 0 {
		return Bitfield{}, protoErr(MsgBitfield, "spare bits", int64(b[len(b)-1]&(0xff>>spare)), 0, ErrBadBitfield)
	}
	return Bitfield{b: b, n: n}, nil
}

// Len returns the number of pieces the bitfield covers.
func (f Bitfield) Len() int { return f.n }

// Bytes returns the wire encoding (shared, not copied).
func (f Bitfield) Bytes() []byte { return f.b }

// Has reports whether piece i is set; false when i is out of range.
func (f Bitfield) Has(i int) bool {
	if uint(i) >= uint(f.n) {
		return false
	}
	return f.b[i>>3]&(0x80>>(i&7)) != 0
}

// Set marks piece i. It panics if i is out of range, like a slice index.
func (f Bitfield) Set(i int) {
	if uint(i) >= uint(f.n) {
		panic("peerwire: Bitfield.Set index out of range")
	}
	f.b[i>>3] |= 0x80 >> (i & 7)
}

// Clear unmarks piece i. It panics if i is out of range, like a slice index.
func (f Bitfield) Clear(i int) {
	if uint(i) >= uint(f.n) {
		panic("peerwire: Bitfield.Clear index out of range")
	}
	f.b[i>>3] &^= 0x80 >> (i & 7)
}

// SetAll marks every piece (what HAVE ALL announces).
func (f Bitfield) SetAll() {
	for i := range f.b {
		f.b[i] = 0xff
	}
	if spare := f.n % 8; spare != 0 {
		f.b[len(f.b)-1] = 0xff << (8 - spare)
	}
}

// Count returns the number of pieces set.
func (f Bitfield) Count() int {
	c := 0
	for _, x := range f.b {
		c += bits.OnesCount8(x)
	}
	return c
}

// Complete reports whether every piece is set.
func (f Bitfield) Complete() bool { return f.Count() == f.n }

// Clone returns an independent copy.
func (f Bitfield) Clone() Bitfield {
	return Bitfield{b: append([]byte(nil), f.b...), n: f.n}
}
