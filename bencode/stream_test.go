package bencode

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecoderSequence(t *testing.T) {
	in := "d1:ai1ee" + "l4:spame" + "i-3e" + "0:" + "d1:ad1:bi1eee"
	for name, r := range map[string]io.Reader{
		"whole":   strings.NewReader(in),
		"onebyte": iotest.OneByteReader(strings.NewReader(in)),
		"half":    iotest.HalfReader(strings.NewReader(in)),
	} {
		d := NewDecoder(r)
		var got []any
		var offs []int64
		for {
			var v any
			err := d.Decode(&v)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = append(got, v)
			offs = append(offs, d.InputOffset())
		}
		want := []any{
			map[string]any{"a": int64(1)}, []any{"spam"}, int64(-3), "",
			map[string]any{"a": map[string]any{"b": int64(1)}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v", name, got)
		}
		if !reflect.DeepEqual(offs, []int64{8, 16, 20, 22, 35}) {
			t.Fatalf("%s: offsets %v", name, offs)
		}
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		in  string
		eof bool
	}{
		{"d1:ai1e", true},
		{"l", true},
		{"5:abc", true},
		{"i12", true},
		{"d1:bi1e1:ai1ee", false},
		{"i01e", false},
		{"x", false},
		{"d1:ae", false},
	}
	for _, tt := range tests {
		d := NewDecoder(iotest.OneByteReader(strings.NewReader(tt.in)))
		var v any
		err := d.Decode(&v)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want *SyntaxError", tt.in, err)
			continue
		}
		if errors.Is(err, io.ErrUnexpectedEOF) != tt.eof {
			t.Errorf("%q: got %v, eof=%v", tt.in, err, tt.eof)
		}
	}
	// A read error other than EOF is returned as is.
	boom := errors.New("boom")
	d := NewDecoder(io.MultiReader(strings.NewReader("l1:a"), iotest.ErrReader(boom)))
	var v any
	if err := d.Decode(&v); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	// A value that completes before the read error is still returned.
	d = NewDecoder(io.MultiReader(strings.NewReader("i1e"), iotest.ErrReader(boom)))
	if err := d.Decode(&v); err != nil || v != int64(1) {
		t.Fatalf("got %v %v", v, err)
	}
	if err := d.Decode(&v); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func TestDecoderLimits(t *testing.T) {
	d := NewDecoder(strings.NewReader(strings.Repeat("l", 65) + strings.Repeat("e", 65)))
	var v any
	if err := d.Decode(&v); !errors.Is(err, ErrLimit) {
		t.Fatalf("depth: %v", err)
	}
	d = NewDecoder(strings.NewReader("l" + strings.Repeat("4:abcd", 1000) + "e"))
	d.SetLimits(Limits{MaxSize: 1000})
	if err := d.Decode(&v); !errors.Is(err, ErrLimit) {
		t.Fatalf("size: %v", err)
	}
	d = NewDecoder(strings.NewReader("5:abcde"))
	d.SetLimits(Limits{MaxStringLen: 4})
	if err := d.Decode(&v); !errors.Is(err, ErrLimit) {
		t.Fatalf("string: %v", err)
	}
}

// A stream claiming a 1 GiB string but carrying a few bytes must not make
// the decoder allocate the claim.
func TestDecoderClaimedLengthNotAllocated(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d := NewDecoder(strings.NewReader("1073741823:abc"))
	d.SetLimits(Limits{MaxStringLen: -1, MaxSize: -1})
	var v any
	err := d.Decode(&v)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes", grew)
	}
}

func TestDecoderBuffered(t *testing.T) {
	d := NewDecoder(strings.NewReader("i1etrailer"))
	var n int
	if err := d.Decode(&n); err != nil || n != 1 {
		t.Fatal(err, n)
	}
	rest, _ := io.ReadAll(d.Buffered())
	if string(rest) != "trailer" {
		t.Fatalf("buffered %q", rest)
	}
}

func TestDecoderLargeString(t *testing.T) {
	s := bytes.Repeat([]byte("x"), 300<<10)
	in := append([]byte("307200:"), s...)
	d := NewDecoder(iotest.HalfReader(bytes.NewReader(in)))
	var got []byte
	if err := d.Decode(&got); err != nil || !bytes.Equal(got, s) {
		t.Fatalf("%v, %d bytes", err, len(got))
	}
}
