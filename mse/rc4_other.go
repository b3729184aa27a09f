//go:build !amd64 || purego

package mse

func (c *rc4) xor8(dst, src []byte) { c.xor8Go(dst, src) }
