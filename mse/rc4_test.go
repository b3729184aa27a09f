package mse

import (
	"bytes"
	stdrc4 "crypto/rc4"
	"math/rand/v2"
	"testing"
)

// TestRC4MatchesStdlib checks our RC4 (assembly or Go) against
// crypto/rc4 for random keys, discards, chunkings, in place and not.
func TestRC4MatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		key := make([]byte, 1+rng.IntN(256))
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		skip := rng.IntN(2000)
		n := rng.IntN(5000)
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		std, err := stdrc4.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, skip)
		std.XORKeyStream(junk, junk)
		want := make([]byte, n)
		std.XORKeyStream(want, src)

		for _, variant := range []string{"xor", "inplace", "go"} {
			var c rc4
			c.init(key, skip)
			got := make([]byte, n)
			if variant == "inplace" {
				copy(got, src)
			}
			for off := 0; off < n; {
				k := min(n-off, rng.IntN(100)+rng.IntN(2)*rng.IntN(3000))
				switch variant {
				case "xor":
					c.xor(got[off:off+k], src[off:off+k])
				case "inplace":
					c.xor(got[off:off+k], got[off:off+k])
				case "go":
					c.xorWith(got[off:off+k], src[off:off+k], (*rc4).xor8Go)
				}
				off += k
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("trial %d (%s, key %d bytes, skip %d, n %d): differs from crypto/rc4", trial, variant, len(key), skip, n)
			}
		}
	}
}

// xorWith is xor with the unrolled rounds given explicitly.
func (c *rc4) xorWith(dst, src []byte, rounds func(*rc4, []byte, []byte)) {
	if head := min(int(7-c.i&7), len(src)); head > 0 {
		c.xorGeneric(dst[:head], src[:head])
		dst, src = dst[head:], src[head:]
	}
	if n := len(src) &^ 7; n > 0 {
		rounds(c, dst[:n], src[:n])
		dst, src = dst[n:], src[n:]
	}
	c.xorGeneric(dst, src)
}

// TestRC4Patch starts the unrolled rounds from every j for many states,
// so that the patched look-ahead (j == i+1 after a swap) runs at each of
// the eight positions of a round, and compares them with the textbook
// loop.
func TestRC4Patch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var hit [8]int
	for trial := range 64 {
		var base rc4
		base.init([]byte{byte(trial), 1, 2, 3}, rng.IntN(300))
		base.i = uint32(7 + 8*rng.IntN(32)) // the rounds start at i+1, a multiple of 8
		for j := range 256 {
			base.j = uint32(j)
			src := make([]byte, 64)
			want := make([]byte, 64)
			ref := base
			// The reference, noting where j lands on the next i.
			for k := range src {
				ref.i = uint32(uint8(ref.i + 1))
				ref.j = uint32(uint8(ref.j + ref.s[ref.i]))
				x, y := ref.s[ref.i], ref.s[ref.j]
				ref.s[ref.i], ref.s[ref.j] = y, x
				want[k] = src[k] ^ uint8(ref.s[uint8(x+y)])
				if ref.j == uint32(uint8(ref.i+1)) {
					hit[k%8]++
				}
			}
			for name, rounds := range map[string]func(*rc4, []byte, []byte){"rounds": (*rc4).xor8, "go": (*rc4).xor8Go} {
				c := base
				got := make([]byte, 64)
				rounds(&c, got, src)
				if !bytes.Equal(got, want) || c != ref {
					t.Fatalf("%s: trial %d j %d: differs from the textbook loop", name, trial, j)
				}
			}
		}
	}
	for k, n := range hit {
		if n == 0 {
			t.Fatalf("position %d of a round never needed the patch: %v", k, hit)
		}
	}
}
