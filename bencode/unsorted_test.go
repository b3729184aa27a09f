package bencode

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

var lenient = Limits{AllowUnsorted: true}

func TestAllowUnsortedGeneric(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"d1:bi1e1:ai2ee", map[string]any{"a": int64(2), "b": int64(1)}},
		{"d1:ci1e1:ai2e1:bi3ee", map[string]any{"a": int64(2), "b": int64(3), "c": int64(1)}},
		// Nested dictionaries, in lists too.
		{"d1:zd1:yi1e1:xi2ee1:ald1:q0:1:p0:eee", map[string]any{
			"z": map[string]any{"x": int64(2), "y": int64(1)},
			"a": []any{map[string]any{"p": "", "q": ""}},
		}},
		// Sorted input decodes as before.
		{"d1:ai1e1:bi2ee", map[string]any{"a": int64(1), "b": int64(2)}},
	}
	for _, tt := range tests {
		var strict any
		if err := Unmarshal([]byte(tt.in), &strict); err == nil && tt.in != "d1:ai1e1:bi2ee" {
			t.Errorf("strict Unmarshal(%q) accepted unsorted keys", tt.in)
		}
		var got any
		if err := UnmarshalLimits([]byte(tt.in), &got, lenient); err != nil {
			t.Errorf("UnmarshalLimits(%q, AllowUnsorted): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("UnmarshalLimits(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestAllowUnsortedStillRefusesDuplicates(t *testing.T) {
	tests := []struct {
		in  string
		off int64
	}{
		{"d1:ai1e1:ai2ee", 7},              // adjacent, still sorted so far
		{"d1:bi1e1:ai2e1:bi3ee", 13},       // after the keys went out of order
		{"d1:ai1e1:ci2e1:bi3e1:ai4ee", 19}, // first key repeated after the switch to the set
		{"d1:bi1e1:ai2e1:ai3ee", 13},       // repeated right after the switch
		{"d1:xd1:bi1e1:ai2e1:bi3eee", 17},  // nested
	}
	var s struct {
		A int `bencode:"a"`
		B int `bencode:"b"`
	}
	for _, tt := range tests {
		for name, v := range map[string]any{"generic": new(any), "map": new(map[string]any), "struct": &s, "raw": new(RawMessage)} {
			err := UnmarshalLimits([]byte(tt.in), v, lenient)
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset != tt.off || !strings.Contains(se.Msg, "duplicate dictionary key") {
				t.Errorf("%s: UnmarshalLimits(%q) = %v, want a duplicate-key error at offset %d", name, tt.in, err, tt.off)
			}
		}
	}
}

func TestAllowUnsortedTyped(t *testing.T) {
	var s struct {
		A int               `bencode:"a"`
		B string            `bencode:"b"`
		M map[string]int    `bencode:"m"`
		R RawMessage        `bencode:"r"`
		L []map[string]bool `bencode:"l"`
	}
	in := "d1:rd1:yi1e1:xi2ee1:md1:qi1e1:pi2ee1:b2:hi1:ai7e1:lld1:ti1e1:fi0eeee"
	if err := Unmarshal([]byte(in), &s); err == nil {
		t.Fatal("strict Unmarshal accepted unsorted keys")
	}
	if err := UnmarshalLimits([]byte(in), &s, lenient); err != nil {
		t.Fatal(err)
	}
	if s.A != 7 || s.B != "hi" || !reflect.DeepEqual(s.M, map[string]int{"p": 2, "q": 1}) ||
		string(s.R) != "d1:yi1e1:xi2ee" || !reflect.DeepEqual(s.L, []map[string]bool{{"t": true, "f": false}}) {
		t.Fatalf("decoded %+v", s)
	}
	// The RawMessage kept the unsorted bytes, which encoding refuses.
	if _, err := Marshal(s.R); err == nil {
		t.Fatal("Marshal of an unsorted RawMessage succeeded")
	}
	// Keys the struct does not know are skipped, with the same rule.
	if err := UnmarshalLimits([]byte("d1:zd1:bi1e1:ai2ee1:ai1ee"), &s, lenient); err != nil || s.A != 1 {
		t.Fatalf("unknown unsorted dictionary: %v, A=%d", err, s.A)
	}
	if err := UnmarshalLimits([]byte("d1:zd1:bi1e1:bi2ee1:ai1ee"), &s, lenient); err == nil {
		t.Fatal("duplicate key inside a skipped value accepted")
	}
}

func TestAllowUnsortedManyKeys(t *testing.T) {
	// Many keys in reverse order: each is checked against a set, and a
	// duplicate of the very first key, far back, is still found.
	var b bytes.Buffer
	b.WriteByte('d')
	const n = 5000
	for i := n; i > 0; i-- {
		k := itoa(i)
		b.WriteString(itoa(len(k)) + ":" + k + "i0e")
	}
	ok := b.String() + "e"
	var m map[string]int64
	if err := UnmarshalLimits([]byte(ok), &m, lenient); err != nil || len(m) != n {
		t.Fatalf("got %d keys, %v", len(m), err)
	}
	dup := b.String() + "4:5000i1ee"
	if err := UnmarshalLimits([]byte(dup), &m, lenient); err == nil {
		t.Fatal("duplicate of the first key accepted")
	}
}

func TestDecoderAllowUnsorted(t *testing.T) {
	in := "d1:bi1e1:ai2eed1:ai1e1:ai2ee"
	d := NewDecoder(iotest.OneByteReader(strings.NewReader(in)))
	var v any
	if err := d.Decode(&v); err == nil {
		t.Fatal("strict Decoder accepted unsorted keys")
	}
	d = NewDecoder(iotest.OneByteReader(strings.NewReader(in)))
	d.SetLimits(lenient)
	if err := d.Decode(&v); err != nil || !reflect.DeepEqual(v, map[string]any{"a": int64(2), "b": int64(1)}) {
		t.Fatalf("first value: %#v, %v", v, err)
	}
	var se *SyntaxError
	if err := d.Decode(&v); !errors.As(err, &se) || !strings.Contains(se.Msg, "duplicate") {
		t.Fatalf("second value (duplicate key): %v", err)
	}
}
