//go:build amd64 && !purego

package sha1x

//go:generate go run gen.go

import "golang.org/x/sys/cpu"

// hasAsm: AVX2 for the 8-lane rounds. With the SHA extensions,
// crypto/sha1's own assembly does one message faster than the rounds here
// do eight. (CPUID leaf 7 exists whenever AVX2 is reported, as AVX2 is
// reported there.)
var hasAsm = cpu.X86.HasAVX2 && cpuid7ebx()&(1<<29) == 0

func cpuid7ebx() uint32

// block8 hashes nblocks consecutive 64-byte blocks of each of 8 messages,
// message i read from ptrs[i], into the word-major state.
//
//go:noescape
func block8(state *[5][Lanes]uint32, ptrs *[Lanes]*byte, nblocks int)
