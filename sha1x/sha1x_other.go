//go:build !amd64 || purego

package sha1x

const hasAsm = false

const hasSHA = false

const hasAVX512 = false

var useAVX512 = false

func blocks(state *[5][Lanes]uint32, ptrs *[Lanes]*byte, nblocks int) {
	panic("sha1x: no vector implementation on this platform")
}
