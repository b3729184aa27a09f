package mse

// rc4 is the RC4 stream cipher as MSE uses it. It is not crypto/rc4
// because that one is much slower here (BenchmarkRC4, BenchmarkRC4Stdlib:
// about 2.5 times on amd64, 1.8 times in Go): RC4 is a chain of dependent
// table lookups, and the textbook loop (crypto/rc4's, in Go or in C)
// stalls on every byte because the load of the next S[i] may alias the
// store to S[j] just before it, so the CPU waits for that store's
// address. Here S[i] is loaded ahead, before the stores that might change
// it, and patched in the rare case (1 in 256 per byte and look-ahead) that
// they did: one byte ahead in Go (xorGo), two in the amd64 assembly, which
// also runs eight bytes per round and XORs them as one word (gen_rc4.go).
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

// xorGo sets dst[k] = src[k] ^ keystream for k < len(src), with the
// look-ahead of the amd64 rounds written in Go: S[i+1] is loaded before
// the store to S[j] and patched when j == i+1 (see the type's comment).
// About 1.5 times crypto/rc4 per CPU-second; it serves other platforms
// and the few bytes around the assembly's eight-byte rounds.
func (c *rc4) xorGo(dst, src []byte) {
	s := &c.s
	i, j := uint8(c.i), uint8(c.j)
	x := s[uint8(i+1)]
	dst = dst[:len(src)]
	for k, v := range src {
		i++
		j += uint8(x)
		y := s[j]
		next := s[uint8(i+1)]
		s[i] = y
		s[j] = x
		if j == i+1 {
			next = x
		}
		dst[k] = v ^ uint8(s[uint8(x+y)])
		x = next
	}
	c.i, c.j = uint32(i), uint32(j)
}
