package sha1x

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// modes runs f on the vector path (when this machine has it) and on the
// crypto/sha1 fallback.
func modes(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	t.Run("fallback", func(t *testing.T) {
		forceFallback = true
		defer func() { forceFallback = false }()
		if Accelerated() {
			t.Fatal("Accelerated with the fallback forced")
		}
		f(t)
	})
	t.Run("vector", func(t *testing.T) {
		if !useAsm() {
			t.Skip("no AVX2: crypto/sha1 only")
		}
		defer vectorFrom(defaultMinLanes)()
		f(t)
	})
	t.Run("avx2", func(t *testing.T) {
		if !useAsm() || !hasAVX512 {
			t.Skip("the vector path is already AVX2 (or absent)")
		}
		defer vectorFrom(defaultMinLanes)()
		useAVX512 = false
		defer func() { useAVX512 = true }()
		f(t)
	})
}

// vectorFrom makes the vector path serve n messages or more, whatever the
// calibration found (the vector code is tested wherever it runs), and
// returns the function that restores it.
func vectorFrom(n int) func() {
	old := minLanes
	minLanes = n
	return func() { minLanes = old }
}

// TestLanesFor: the vector path is used from the first count of messages
// whose crypto/sha1 time exceeds one vector call, never below two.
func TestLanesFor(t *testing.T) {
	for _, c := range []struct {
		tv, ts time.Duration
		want   int
	}{
		{100, 200, 2},         // AVX-512 without SHA: 2 lanes already win
		{290, 100, 3},         // Xeon with SHA-NI: 4.5 GB/s for 8 against 1.55 for 1
		{700, 100, 8},         // barely faster with every lane full
		{800, 100, Lanes + 1}, // never faster
	} {
		if got := lanesFor(c.tv, c.ts); got != c.want {
			t.Errorf("lanesFor(%v, %v) = %d, want %d", c.tv, c.ts, got, c.want)
		}
	}
}

// TestCalibrated: where the SHA extensions exist, the timing at first use
// chose a count within range and Accelerated agrees with it; elsewhere
// MinLanes is 2 with the vector path, Lanes+1 without.
func TestCalibrated(t *testing.T) {
	n := MinLanes()
	switch {
	case !useAsm():
		if n != Lanes+1 || Accelerated() {
			t.Fatalf("no vector path: MinLanes %d, Accelerated %v", n, Accelerated())
		}
	case !hasSHA:
		if n != defaultMinLanes || !Accelerated() {
			t.Fatalf("without SHA: MinLanes %d, Accelerated %v", n, Accelerated())
		}
	default:
		if n < defaultMinLanes || n > Lanes+1 || Accelerated() != (n <= Lanes) {
			t.Fatalf("with SHA: MinLanes %d, Accelerated %v", n, Accelerated())
		}
		t.Logf("SHA extensions present: the vector path from %d messages", n)
	}
}

func TestSelfTest(t *testing.T) {
	if !hasAsm {
		t.Skip("no vector path on this machine")
	}
	if !useAsm() || useAVX512 != hasAVX512 {
		t.Fatalf("self-test turned off a flavour: vector %v, AVX-512 %v of %v", useAsm(), useAVX512, hasAVX512)
	}
	for _, x := range []bool{true, false} {
		if x && !hasAVX512 {
			continue
		}
		useAVX512 = x
		err := selfTest()
		useAVX512 = hasAVX512
		if err != nil {
			t.Fatalf("AVX-512 %v: %v", x, err)
		}
	}
}

func TestKnownVectors(t *testing.T) {
	million := bytes.Repeat([]byte("a"), 1_000_000)
	cases := []struct {
		msg  []byte
		want string
	}{
		{[]byte("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{nil, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
		{[]byte("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
		{million, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
	}
	modes(t, func(t *testing.T) {
		for _, c := range cases {
			for n := 1; n <= Lanes; n++ {
				var msgs [Lanes][]byte
				for i := range n {
					msgs[i] = c.msg
				}
				var got [Lanes][Size]byte
				Sum8(&got, &msgs, n)
				for i := range n {
					if h := hex.EncodeToString(got[i][:]); h != c.want {
						t.Fatalf("len %d, %d lanes, lane %d: got %s, want %s", len(c.msg), n, i, h, c.want)
					}
				}
			}
		}
	})
}

var testLengths = []int{0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 16 << 10, 1 << 20}

func randMsgs(r *rand.Rand, n, l int, same bool) [Lanes][]byte {
	var msgs [Lanes][]byte
	for i := range n {
		if same && i > 0 {
			msgs[i] = msgs[0]
			continue
		}
		msgs[i] = make([]byte, l)
		for j := range msgs[i] {
			msgs[i][j] = byte(r.Uint32())
		}
	}
	return msgs
}

// TestSum8Differential compares Sum8 with crypto/sha1 for every lane count,
// padding boundaries, and lanes with the same and with different contents.
func TestSum8Differential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lengths := append([]int(nil), testLengths...)
	for range 20 {
		lengths = append(lengths, r.IntN(5000))
	}
	modes(t, func(t *testing.T) {
		for _, l := range lengths {
			for n := 1; n <= Lanes; n++ {
				for _, same := range []bool{false, true} {
					if l >= 1<<20 && n != Lanes && n != 3 {
						continue // keep the test quick
					}
					msgs := randMsgs(r, n, l, same)
					var got [Lanes][Size]byte
					Sum8(&got, &msgs, n)
					for i := range n {
						if want := sha1.Sum(msgs[i]); got[i] != want {
							t.Fatalf("len %d, %d lanes, same %v, lane %d: got %x, want %x", l, n, same, i, got[i], want)
						}
					}
				}
			}
		}
	})
}

// TestSum8Unequal: lanes of different lengths are hashed one by one, and
// the digests beyond n are left alone.
func TestSum8Unequal(t *testing.T) {
	modes(t, func(t *testing.T) {
		var msgs [Lanes][]byte
		for i := range 5 {
			msgs[i] = bytes.Repeat([]byte{byte(i)}, 60+i*10)
		}
		var got [Lanes][Size]byte
		got[5][0] = 0xee
		Sum8(&got, &msgs, 5)
		for i := range 5 {
			if want := sha1.Sum(msgs[i]); got[i] != want {
				t.Fatalf("lane %d: got %x, want %x", i, got[i], want)
			}
		}
		if got[5][0] != 0xee || got[6] != ([Size]byte{}) {
			t.Fatal("Sum8 wrote past n")
		}
	})
}

// TestMultiChunks feeds messages through Multi in chunks of many sizes
// (crossing block boundaries every way) and compares with crypto/sha1.
func TestMultiChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	modes(t, func(t *testing.T) {
		var m Multi
		for _, l := range []int{0, 1, 63, 64, 65, 200, 1000, 16 << 10, 50_001} {
			for _, n := range []int{1, 2, 5, 8} {
				msgs := randMsgs(r, n, l, false)
				for _, chunk := range []int{1, 7, 63, 64, 65, 100, 16 << 10} {
					m.Reset(n)
					for off := 0; off < l; off += chunk {
						var c [Lanes][]byte
						end := min(off+chunk, l)
						for i := range n {
							c[i] = msgs[i][off:end]
						}
						m.Write(&c)
					}
					var got [Lanes][Size]byte
					m.Sum(&got)
					for i := range n {
						if want := sha1.Sum(msgs[i]); got[i] != want {
							t.Fatalf("len %d, %d lanes, chunk %d, lane %d: got %x, want %x", l, n, chunk, i, got[i], want)
						}
					}
				}
			}
		}
	})
}

func TestSumMany(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	modes(t, func(t *testing.T) {
		// 19 pieces of 3000 bytes, a short last one, then mixed lengths.
		var msgs [][]byte
		for range 19 {
			m := randMsgs(r, 1, 3000, false)
			msgs = append(msgs, m[0])
		}
		for _, l := range []int{1234, 5, 5, 0, 64, 64, 64} {
			m := randMsgs(r, 1, l, false)
			msgs = append(msgs, m[0])
		}
		out := make([][Size]byte, len(msgs))
		SumMany(msgs, out)
		for i, m := range msgs {
			if want := sha1.Sum(m); out[i] != want {
				t.Fatalf("message %d (len %d): got %x, want %x", i, len(m), out[i], want)
			}
		}
	})
}

func TestPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	var m Multi
	mustPanic("Reset(0)", func() { m.Reset(0) })
	mustPanic("Reset(9)", func() { m.Reset(9) })
	mustPanic("Write unequal", func() {
		m.Reset(2)
		m.Write(&[Lanes][]byte{make([]byte, 3), make([]byte, 4)})
	})
	mustPanic("SumMany short out", func() { SumMany(make([][]byte, 2), make([][Size]byte, 1)) })
}

func TestNoAllocs(t *testing.T) {
	msgs := randMsgs(rand.New(rand.NewPCG(7, 8)), Lanes, 5000, false)
	var got [Lanes][Size]byte
	if a := testing.AllocsPerRun(20, func() { Sum8(&got, &msgs, Lanes) }); a != 0 {
		t.Errorf("Sum8: %v allocations per call", a)
	}
	var m Multi
	m.Reset(Lanes)
	if a := testing.AllocsPerRun(20, func() {
		m.Reset(Lanes)
		m.Write(&msgs)
		m.Sum(&got)
	}); a != 0 {
		t.Errorf("Multi: %v allocations per message set", a)
	}
}

// FuzzSum8 compares Sum8 and chunked Multi with crypto/sha1: data is split
// into n equal messages (n from the first byte), fed in chunks of a size
// from the second byte.
func FuzzSum8(f *testing.F) {
	f.Add([]byte{8, 64}, []byte("abc"))
	f.Add([]byte{3, 1}, bytes.Repeat([]byte{0x5a}, 3*119))
	f.Add([]byte{8, 0}, bytes.Repeat([]byte("0123456789abcdef"), 8*9))
	f.Add([]byte{2, 200}, make([]byte, 2*56))
	f.Fuzz(func(t *testing.T, ctl, data []byte) {
		n, chunk := 1, 0
		if len(ctl) > 0 {
			n = int(ctl[0])%Lanes + 1
		}
		if len(ctl) > 1 {
			chunk = int(ctl[1])
		}
		l := len(data) / n
		var msgs [Lanes][]byte
		for i := range n {
			msgs[i] = data[i*l : (i+1)*l]
		}
		var got [Lanes][Size]byte
		Sum8(&got, &msgs, n)
		for i := range n {
			if want := sha1.Sum(msgs[i]); got[i] != want {
				t.Fatalf("Sum8 %d lanes of %d, lane %d: got %x, want %x", n, l, i, got[i], want)
			}
		}
		if chunk == 0 {
			chunk = l + 1
		}
		var m Multi
		m.Reset(n)
		for off := 0; off < l; off += chunk {
			var c [Lanes][]byte
			for i := range n {
				c[i] = msgs[i][off:min(off+chunk, l)]
			}
			m.Write(&c)
		}
		m.Sum(&got)
		for i := range n {
			if want := sha1.Sum(msgs[i]); got[i] != want {
				t.Fatalf("Multi %d lanes of %d, chunk %d, lane %d: got %x, want %x", n, l, chunk, i, got[i], want)
			}
		}
	})
}

func benchMsgs(b *testing.B, l int) [Lanes][]byte {
	return randMsgs(rand.New(rand.NewPCG(9, 10)), Lanes, l, false)
}

var benchSizes = []int{256 << 10, 1 << 20}

// BenchmarkSum8 hashes 8 messages at once; its MB/s compares directly
// with BenchmarkCryptoSHA1 (8 messages one after the other), on one core.
func BenchmarkSum8(b *testing.B) {
	for _, l := range benchSizes {
		b.Run(fmt.Sprintf("8x%dKiB", l>>10), func(b *testing.B) {
			msgs := benchMsgs(b, l)
			var got [Lanes][Size]byte
			b.SetBytes(int64(Lanes * l))
			for b.Loop() {
				Sum8(&got, &msgs, Lanes)
			}
		})
	}
}

// BenchmarkSum8AVX2 is BenchmarkSum8 with the AVX2 flavour forced.
func BenchmarkSum8AVX2(b *testing.B) {
	if !useAsm() || !hasAVX512 {
		b.Skip("the vector path is already AVX2 (or absent)")
	}
	defer vectorFrom(defaultMinLanes)()
	useAVX512 = false
	defer func() { useAVX512 = true }()
	BenchmarkSum8(b)
}

// BenchmarkSum8Lanes: the vector path with fewer lanes filled (what a
// hasher gets when few pieces are queued).
func BenchmarkSum8Lanes(b *testing.B) {
	const l = 256 << 10
	msgs := benchMsgs(b, l)
	for _, n := range []int{2, 3, 4} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var got [Lanes][Size]byte
			b.SetBytes(int64(n * l))
			for b.Loop() {
				Sum8(&got, &msgs, n)
			}
		})
	}
}

func BenchmarkCryptoSHA1(b *testing.B) {
	for _, l := range benchSizes {
		b.Run(fmt.Sprintf("8x%dKiB", l>>10), func(b *testing.B) {
			msgs := benchMsgs(b, l)
			var got [Lanes][Size]byte
			b.SetBytes(int64(Lanes * l))
			for b.Loop() {
				for i := range msgs {
					got[i] = sha1.Sum(msgs[i])
				}
			}
		})
	}
}
