//go:build amd64 && !purego

package mse

//go:generate go run gen_rc4.go

// xor sets dst[k] = src[k] ^ keystream for k < len(src). dst must be at
// least as long as src; it may be src itself (in place) but must not
// overlap it otherwise.
func (c *rc4) xor(dst, src []byte) {
	if len(src) == 0 {
		return
	}
	dst = dst[:len(src)]
	// The assembly rounds start where i+1 is a multiple of 8: their eight
	// indices i+1..i+8 then never wrap inside a round.
	if head := min(int(7-c.i&7), len(src)); head > 0 {
		c.xorGo(dst[:head], src[:head])
		dst, src = dst[head:], src[head:]
	}
	if n := len(src) &^ 7; n > 0 {
		rc4xor8(c, &dst[0], &src[0], n)
		dst, src = dst[n:], src[n:]
	}
	if len(src) > 0 {
		c.xorGo(dst, src)
	}
}

// rc4xor8 runs the rounds: n is a positive multiple of 8 and c.i+1 is a
// multiple of 8.
//
//go:noescape
func rc4xor8(c *rc4, dst, src *byte, n int)
