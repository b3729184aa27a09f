package peerwire

import (
	"errors"
	"testing"
)

func TestBitfield(t *testing.T) {
	f := NewBitfield(10)
	if f.Len() != 10 || len(f.Bytes()) != 2 || f.Count() != 0 {
		t.Fatalf("new: len %d bytes %d count %d", f.Len(), len(f.Bytes()), f.Count())
	}
	f.Set(0)
	f.Set(9)
	f.Set(9)
	if !f.Has(0) || !f.Has(9) || f.Has(1) || f.Count() != 2 {
		t.Fatalf("after Set: % x", f.Bytes())
	}
	if f.Bytes()[0] != 0x80 || f.Bytes()[1] != 0x40 {
		t.Fatalf("wire order: % x, want 80 40", f.Bytes())
	}
	if f.Has(-1) || f.Has(10) || f.Has(1<<40) {
		t.Fatal("Has out of range must be false")
	}
	g := f.Clone()
	f.Clear(0)
	if f.Has(0) || !g.Has(0) {
		t.Fatal("Clone shares bits or Clear failed")
	}
	f.SetAll()
	if !f.Complete() || f.Count() != 10 || f.Bytes()[1] != 0xc0 {
		t.Fatalf("SetAll: % x", f.Bytes())
	}
	if _, err := ParseBitfield(f.Bytes(), 10); err != nil {
		t.Fatalf("SetAll left spare bits: %v", err)
	}
	var zero Bitfield
	if zero.Len() != 0 || zero.Count() != 0 || !zero.Complete() || zero.Has(0) {
		t.Fatal("zero bitfield")
	}
}

func TestBitfieldPanicsOutOfRange(t *testing.T) {
	for _, fn := range []func(Bitfield){func(f Bitfield) { f.Set(8) }, func(f Bitfield) { f.Clear(-1) }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			fn(NewBitfield(8))
		}()
	}
}

func TestParseBitfield(t *testing.T) {
	cases := []struct {
		b     []byte
		n     int
		field string
	}{
		{[]byte{0xff}, 8, ""},
		{[]byte{0xff, 0x80}, 9, ""},
		{[]byte{}, 0, ""},
		{[]byte{0xff, 0xc0}, 9, "spare bits"},
		{[]byte{0x01}, 7, "spare bits"},
		{[]byte{0xff}, 9, "length"},
		{[]byte{0xff, 0, 0}, 9, "length"},
		{nil, 1, "length"},
		{nil, -1, "length"},
	}
	for _, c := range cases {
		f, err := ParseBitfield(c.b, c.n)
		if c.field == "" {
			if err != nil || f.Len() != c.n {
				t.Errorf("ParseBitfield(% x, %d) = %v", c.b, c.n, err)
			}
			continue
		}
		var pe *ProtocolError
		if !errors.Is(err, ErrBadBitfield) || !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("ParseBitfield(% x, %d) = %v, want %s error", c.b, c.n, err, c.field)
		}
	}
}
