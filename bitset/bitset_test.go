package bitset

import (
	"bytes"
	"go.uber.org/goleak"
	"math/rand/v2"
	"testing"
)

func TestSetBasics(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 63, 64, 65, 1000} {
		s := New(n)
		if s.Len() != n || s.Count() != 0 || (n > 0 && s.Complete()) {
			t.Fatalf("n=%d: new set not empty", n)
		}
		s.Set(-1)
		s.Set(n)
		if s.Count() != 0 || s.Has(-1) || s.Has(n) {
			t.Fatalf("n=%d: out of range values changed the set", n)
		}
		s.SetAll()
		if !s.Complete() || s.Count() != n {
			t.Fatalf("n=%d: SetAll gives %d members", n, s.Count())
		}
		if n > 0 {
			s.Clear(n - 1)
			if s.Has(n-1) || s.Count() != n-1 {
				t.Fatalf("n=%d: Clear failed", n)
			}
		}
	}
}

func TestBytesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := r.IntN(300)
		s := New(n)
		var want []int
		for i := range n {
			if r.IntN(3) == 0 {
				s.Set(i)
				want = append(want, i)
			}
		}
		var got []int
		s.Each(func(i int) { got = append(got, i) })
		if len(got) != len(want) {
			t.Fatalf("Each: %v, want %v", got, want)
		}
		b := s.Bytes()
		u, err := FromBytes(b, n)
		if err != nil || !bytes.Equal(u.Bytes(), b) || u.Count() != s.Count() {
			t.Fatalf("round trip of %d bits: %v", n, err)
		}
		c := s.Clone()
		c.SetAll()
		if n > 0 && s.Count() == n && len(want) != n {
			t.Fatal("Clone shares words")
		}
	}
}

func TestFromBytesRefuses(t *testing.T) {
	if _, err := FromBytes([]byte{0xff}, 9); err != ErrLength {
		t.Fatalf("short input: %v", err)
	}
	if _, err := FromBytes([]byte{0x01}, 7); err != ErrLength {
		t.Fatalf("spare bit set: %v", err)
	}
	if s, err := FromBytes([]byte{0x80, 0x80}, 9); err != nil || !s.Has(0) || !s.Has(8) || s.Count() != 2 {
		t.Fatalf("valid input: %v", err)
	}
}

func FuzzFromBytes(f *testing.F) {
	f.Add([]byte{0xf0}, 4)
	f.Add([]byte{0xff, 0x80}, 9)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		s, err := FromBytes(b, n)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Bytes(), b) {
			t.Fatalf("FromBytes(%x, %d) does not round-trip", b, n)
		}
	})
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
