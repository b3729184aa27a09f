//go:build amd64 && !purego

package sha1x

//go:generate go run gen.go

import "golang.org/x/sys/cpu"

// hasAsm: AVX2 for the 8-lane rounds. hasSHA: the SHA extensions, which
// crypto/sha1 uses; then the two are timed against each other (calibrate).
// (CPUID leaf 7 exists whenever AVX2 is reported, as AVX2 is reported
// there.)
var (
	hasAsm = cpu.X86.HasAVX2
	hasSHA = hasAsm && cpuid7ebx()&(1<<29) != 0
)

// hasAVX512: the AVX-512VL flavour of the rounds (same YMM lanes, fewer
// instructions) can run; useAVX512 selects it (tests turn it off to check
// the AVX2 flavour; a failed self-test turns it off too).
var (
	hasAVX512 = hasAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	useAVX512 = hasAVX512
)

func cpuid7ebx() uint32

// blocks runs the selected flavour (a branch, not a func value: an indirect
// call would make its arguments, and every vec, escape to the heap).
func blocks(state *[5][Lanes]uint32, ptrs *[Lanes]*byte, nblocks int) {
	if useAVX512 {
		block8x(state, ptrs, nblocks)
	} else {
		block8(state, ptrs, nblocks)
	}
}

// block8 hashes nblocks consecutive 64-byte blocks of each of 8 messages,
// message i read from ptrs[i], into the word-major state.
//
//go:noescape
func block8(state *[5][Lanes]uint32, ptrs *[Lanes]*byte, nblocks int)

// block8x is block8 with AVX-512VL instructions on the same YMM lanes.
//
//go:noescape
func block8x(state *[5][Lanes]uint32, ptrs *[Lanes]*byte, nblocks int)
