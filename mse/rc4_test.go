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
					c.xorGo(got[off:off+k], src[off:off+k])
				}
				off += k
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("trial %d (%s, key %d bytes, skip %d, n %d): differs from crypto/rc4", trial, variant, len(key), skip, n)
			}
		}
	}
}

// TestRC4Patch starts from every j for many states, at an i where the
// amd64 rounds begin, so that each patch of a look-ahead (the swap's
// store to S[j] hit S[i+1] or S[i+2], already loaded) runs at each of the
// eight positions of a round, and compares xor and xorGo with the
// textbook loop.
func TestRC4Patch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var hit [2][8]int
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
				if d := uint8(ref.j - ref.i - 1); d < 2 {
					hit[d][k%8]++
				}
			}
			for name, xor := range map[string]func(*rc4, []byte, []byte){"xor": (*rc4).xor, "go": (*rc4).xorGo} {
				c := base
				got := make([]byte, 64)
				xor(&c, got, src)
				if !bytes.Equal(got, want) || c != ref {
					t.Fatalf("%s: trial %d j %d: differs from the textbook loop", name, trial, j)
				}
			}
		}
	}
	for d := range hit {
		for k, n := range hit[d] {
			if n == 0 {
				t.Fatalf("position %d of a round never had j == i+%d: %v", k, d+1, hit)
			}
		}
	}
}
