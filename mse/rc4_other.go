//go:build !amd64 || purego

package mse

// xor sets dst[k] = src[k] ^ keystream for k < len(src). dst must be at
// least as long as src; it may be src itself (in place) but must not
// overlap it otherwise.
func (c *rc4) xor(dst, src []byte) { c.xorGo(dst, src) }
