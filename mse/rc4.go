package mse

import "encoding/binary"

// rc4 is the RC4 stream cipher as MSE uses it. It is not crypto/rc4
// because that one is about half as fast here: RC4 is one long chain of
// dependent table lookups, and a straightforward loop (crypto/rc4's, in
// Go or in C) stalls on every byte because the next byte's S[i+1] load may
// alias the store to S[j] just before it, so the CPU waits for that
// store's address. The amd64 assembly loads S[i+1] before the store and
// patches the loaded value in the rare case (1 in 256) that j == i+1,
// which breaks that wait; it also unrolls eight bytes and XORs them as one
// 64-bit word (see gen_rc4.go and BenchmarkRC4). Other platforms run the
// same idea in Go.
//
// The state is 32-bit words (not bytes) so that loads and stores are
// whole registers, and i and j are kept as uint32 for the assembly.
type rc4 struct {
	s    [256]uint32
	i, j uint32
}

// init keys c (key is 1 to 256 bytes) and discards the first `discard`
// bytes of keystream.
func (c *rc4) init(key []byte, discard int) {
	for i := range c.s {
		c.s[i] = uint32(i)
	}
	var j uint8
	for i := range c.s {
		j += uint8(c.s[i]) + key[i%len(key)]
		c.s[i], c.s[j] = c.s[j], c.s[i]
	}
	c.i, c.j = 0, 0
	c.skip(discard)
}

// skip advances the keystream by n bytes.
func (c *rc4) skip(n int) {
	i, j := uint8(c.i), uint8(c.j)
	s := &c.s
	for range n {
		i++
		x := s[i]
		j += uint8(x)
		s[i], s[j] = s[j], x
	}
	c.i, c.j = uint32(i), uint32(j)
}

// xor sets dst[k] = src[k] ^ keystream for k < len(src). dst must be at
// least as long as src; it may be src itself (in place) but must not
// overlap it otherwise.
func (c *rc4) xor(dst, src []byte) {
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	// The unrolled loop starts where i+1 is a multiple of 8: its eight
	// indices i+1..i+8 then never wrap inside a round.
	if head := int(7 - c.i&7); head > 0 {
		head = min(head, len(src))
		c.xorGeneric(dst[:head], src[:head])
		dst, src = dst[head:], src[head:]
	}
	if n := len(src) &^ 7; n > 0 {
		c.xor8(dst[:n], src[:n])
		dst, src = dst[n:], src[n:]
	}
	if len(src) > 0 {
		c.xorGeneric(dst, src)
	}
}

// xorGeneric is the textbook loop, for the few bytes around the unrolled
// rounds.
func (c *rc4) xorGeneric(dst, src []byte) {
	i, j := uint8(c.i), uint8(c.j)
	s := &c.s
	dst = dst[:len(src)]
	for k, v := range src {
		i++
		x := s[i]
		j += uint8(x)
		y := s[j]
		s[i], s[j] = y, x
		dst[k] = v ^ uint8(s[uint8(x+y)])
	}
	c.i, c.j = uint32(i), uint32(j)
}

// xor8Go is the unrolled loop in Go, for platforms without the assembly
// (and tested against it): len(src) is a multiple of 8 and c.i+1 is a
// multiple of 8. S[i+1] is loaded before the store to S[j] and patched
// when j == i+1 (see the type's comment).
func (c *rc4) xor8Go(dst, src []byte) {
	s := &c.s
	i, j := uint8(c.i), uint8(c.j)
	x := s[uint8(i+1)]
	for len(src) >= 8 {
		var ks uint64
		for k := range 8 {
			i++
			j += uint8(x)
			y := s[j]
			next := s[uint8(i+1)]
			s[i] = y
			s[j] = x
			if j == i+1 {
				next = x
			}
			ks |= uint64(uint8(s[uint8(x+y)])) << (8 * k)
			x = next
		}
		binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(src)^ks)
		dst, src = dst[8:], src[8:]
	}
	c.i, c.j = uint32(i), uint32(j)
}
