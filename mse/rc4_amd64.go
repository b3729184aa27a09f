//go:build amd64 && !purego

package mse

//go:generate go run gen_rc4.go

// xor8 runs the assembly rounds: len(src) is a positive multiple of 8 and
// c.i+1 is a multiple of 8.
func (c *rc4) xor8(dst, src []byte) {
	rc4xor8(c, &dst[0], &src[0], len(src))
}

//go:noescape
func rc4xor8(c *rc4, dst, src *byte, n int)
