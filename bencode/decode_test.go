package bencode

import (
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestUnmarshalGeneric(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"i0e", int64(0)},
		{"i42e", int64(42)},
		{"i-42e", int64(-42)},
		{"i9223372036854775807e", int64(math.MaxInt64)},
		{"i-9223372036854775808e", int64(math.MinInt64)},
		{"0:", ""},
		{"4:spam", "spam"},
		{"le", []any{}},
		{"de", map[string]any{}},
		{"l4:spami7ee", []any{"spam", int64(7)}},
		{"d3:cow3:moo4:spam4:eggse", map[string]any{"cow": "moo", "spam": "eggs"}},
		{"d1:ad1:bli1eeee", map[string]any{"a": map[string]any{"b": []any{int64(1)}}}},
		{"d0:i1e1:ai2ee", map[string]any{"": int64(1), "a": int64(2)}},
	}
	for _, tt := range tests {
		var got any
		if err := Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("Unmarshal(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Unmarshal(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		// Canonical input re-encodes to itself.
		if b, err := Marshal(got); err != nil || string(b) != tt.in {
			t.Errorf("Marshal(Unmarshal(%q)) = %q, %v", tt.in, b, err)
		}
	}
}

func TestUnmarshalSyntaxErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int64
		msg    string
		eof    bool
	}{
		{"", 0, "unexpected end of input", true},
		{"i", 1, "unexpected end of input in integer", true},
		{"ie", 1, "expected a digit in integer", false},
		{"i-e", 2, "expected a digit in integer", false},
		{"i-0e", 1, "negative zero", false},
		{"i03e", 1, "leading zero in integer", false},
		{"i-03e", 2, "leading zero in integer", false},
		{"i+3e", 1, "expected a digit or 'e' in integer, found '+'", false},
		{"i1.5e", 2, "expected a digit or 'e'", false},
		{"i9223372036854775808e", 0, "does not fit in int64", false},
		{"i-9223372036854775809e", 0, "does not fit in int64", false},
		{"i99999999999999999999999e", 0, "does not fit in int64", false},
		{"01:a", 0, "leading zero in string length", false},
		{"5:abc", 5, "unexpected end of input in string (length 5)", true},
		{"4294967296:abc", 0, "exceeds the limit", false},
		{"3x:abc", 1, "expected a digit or ':' in string length", false},
		{"l", 1, "unexpected end of input", true},
		{"li1e", 4, "unexpected end of input", true},
		{"d", 1, "unexpected end of input", true},
		{"di1ei2ee", 1, "expected a string dictionary key or 'e', found 'i'", false},
		{"d1:ai1e1:ai2ee", 7, `duplicate dictionary key "a"`, false},
		{"d1:bi1e1:ai2ee", 7, `dictionary key "a" is not sorted after "b"`, false},
		{"d1:ae", 4, "expected 'i', 'l', 'd' or a string length, found 'e'", false},
		{"e", 0, "found 'e'", false},
		{"x", 0, "found 'x'", false},
		{"i1ei2e", 3, "expected end of input after the value, found 'i'", false},
		{"le ", 2, "expected end of input", false},
		{"d1:bi1e2:aai1ee", 7, `dictionary key "aa" is not sorted after "b"`, false},
		{"d1:a0:1:a0:e", 6, `duplicate dictionary key "a"`, false},
	}
	for _, tt := range tests {
		var v any
		err := Unmarshal([]byte(tt.in), &v)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Unmarshal(%q) = %v, want a *SyntaxError", tt.in, err)
			continue
		}
		if se.Offset != tt.offset || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Unmarshal(%q) = offset %d %q, want offset %d containing %q", tt.in, se.Offset, se.Msg, tt.offset, tt.msg)
		}
		if got := errors.Is(err, io.ErrUnexpectedEOF); got != tt.eof {
			t.Errorf("Unmarshal(%q): errors.Is(io.ErrUnexpectedEOF) = %v, want %v", tt.in, got, tt.eof)
		}
		// The same input decoded into a struct is refused the same way:
		// strictness does not depend on the target.
		var s struct {
			A any `bencode:"a"`
		}
		err2 := Unmarshal([]byte(tt.in), &s)
		if err2 == nil {
			t.Errorf("Unmarshal(%q) into a struct succeeded", tt.in)
		}
	}
}

func TestUnsortedKeysRejectedEvenWhenSkipped(t *testing.T) {
	// Keys are checked inside values that are skipped (unknown fields) too.
	var s struct {
		B int `bencode:"b"`
	}
	err := Unmarshal([]byte("d1:ad1:yi1e1:xi2ee1:bi3ee"), &s)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 11 {
		t.Fatalf("got %v, want a syntax error at offset 11", err)
	}
	if err := Unmarshal([]byte("d1:ad1:xi1e1:yi2ee1:bi3ee"), &s); err != nil || s.B != 3 {
		t.Fatalf("valid input: %v, B=%d", err, s.B)
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("l", 64) + strings.Repeat("e", 64)
	var v any
	if err := Unmarshal([]byte(deep), &v); err != nil {
		t.Fatalf("depth 64: %v", err)
	}
	tooDeep := strings.Repeat("l", 65) + strings.Repeat("e", 65)
	err := Unmarshal([]byte(tooDeep), &v)
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, ErrLimit) || se.Offset != 64 {
		t.Fatalf("depth 65: %v, want ErrLimit at offset 64", err)
	}
	// A million levels must not overflow the stack: the limit stops it at 64.
	huge := strings.Repeat("l", 1<<20)
	if err := Unmarshal([]byte(huge), &v); !errors.Is(err, ErrLimit) {
		t.Fatalf("1M levels: %v", err)
	}
	if err := UnmarshalLimits([]byte("d1:ad1:bleee"), &v, Limits{MaxDepth: 2}); !errors.Is(err, ErrLimit) {
		t.Fatalf("MaxDepth 2: %v", err)
	}
	if err := UnmarshalLimits([]byte("5:hello"), &v, Limits{MaxStringLen: 4}); !errors.Is(err, ErrLimit) {
		t.Fatalf("MaxStringLen 4: %v", err)
	}
	if err := UnmarshalLimits([]byte("4:hell"), &v, Limits{MaxStringLen: 4}); err != nil {
		t.Fatalf("MaxStringLen 4, 4 bytes: %v", err)
	}
	if err := UnmarshalLimits([]byte("l4:hell4:helle"), &v, Limits{MaxSize: 13}); !errors.Is(err, ErrLimit) {
		t.Fatalf("MaxSize 13: %v", err)
	}
}

func TestClaimedLengthNotAllocated(t *testing.T) {
	// A string claiming 1 GiB with 3 bytes present fails without
	// allocating anything near the claim.
	in := []byte("1073741823:abc")
	var v any
	allocs := testing.AllocsPerRun(10, func() {
		if err := UnmarshalLimits(in, &v, Limits{MaxStringLen: -1}); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v", err)
		}
	})
	if allocs > 3 {
		t.Fatalf("%v allocations for a short string", allocs)
	}
}

type inner struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type outer struct {
	Name     string            `bencode:"name"`
	Files    []inner           `bencode:"files,omitempty"`
	Private  bool              `bencode:"private,omitempty"`
	Hash     [4]byte           `bencode:"hash"`
	Data     []byte            `bencode:"data,omitempty"`
	Info     RawMessage        `bencode:"info,omitempty"`
	Skip     string            `bencode:"-"`
	Any      any               `bencode:"any,omitempty"`
	Ptr      *int              `bencode:"ptr,omitempty"`
	Extra    map[string]string `bencode:"extra,omitempty"`
	Untagged uint16
	u        int
}

func TestStructRoundTrip(t *testing.T) {
	seven := 7
	in := outer{
		Name:     "x",
		Files:    []inner{{1, []string{"a", "b"}}, {2, []string{"c"}}},
		Private:  true,
		Hash:     [4]byte{1, 2, 3, 4},
		Data:     []byte{0, 255},
		Info:     RawMessage("d1:ai1ee"),
		Skip:     "not encoded",
		Any:      []any{int64(1), "two"},
		Ptr:      &seven,
		Extra:    map[string]string{"z": "1", "a": "2"},
		Untagged: 9,
		u:        1,
	}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := "d8:Untaggedi9e3:anyli1e3:twoe4:data2:\x00\xff5:extrad1:a1:21:z1:1e5:filesld6:lengthi1e4:pathl1:a1:beed6:lengthi2e4:pathl1:ceee4:hash4:\x01\x02\x03\x044:infod1:ai1ee4:name1:x7:privatei1e3:ptri7ee"
	if string(b) != want {
		t.Fatalf("Marshal:\n got %q\nwant %q", b, want)
	}
	var out outer
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	in.Skip, in.u = "", 0
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
	// omitempty and nil pointers drop fields.
	b, err = Marshal(outer{Name: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "d8:Untaggedi0e4:hash4:\x00\x00\x00\x004:name1:ye"; string(b) != want {
		t.Fatalf("Marshal(empty) = %q, want %q", b, want)
	}
}

func TestRawMessageKeepsBytes(t *testing.T) {
	var s struct {
		Info RawMessage `bencode:"info"`
		Z    int        `bencode:"z"`
	}
	in := "d4:infod4:name3:abc6:lengthi9ee1:zi1ee"
	// "name" > "length" is unsorted: the raw value is validated too.
	if err := Unmarshal([]byte(in), &s); err == nil {
		t.Fatal("unsorted keys inside a RawMessage accepted")
	}
	in = "d4:infod6:lengthi9e4:name3:abce1:zi1ee"
	if err := Unmarshal([]byte(in), &s); err != nil {
		t.Fatal(err)
	}
	if string(s.Info) != "d6:lengthi9e4:name3:abce" || s.Z != 1 {
		t.Fatalf("got %q %d", s.Info, s.Z)
	}
	// Decoding copies: changing the input does not change the message.
	buf := []byte(in)
	if err := Unmarshal(buf, &s); err != nil {
		t.Fatal(err)
	}
	buf[8] = 'X'
	if s.Info[1] != '6' {
		t.Fatal("RawMessage aliases the input")
	}
	if _, err := Marshal(RawMessage("i1")); err == nil {
		t.Fatal("invalid RawMessage encoded")
	}
}

func TestTypeErrors(t *testing.T) {
	var s outer
	err := Unmarshal([]byte("d5:filesld6:lengthi1e4:pathl1:aeed6:length1:x4:pathleeee"), &s)
	var te *UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want *UnmarshalTypeError", err)
	}
	if te.Field != "files[1].length" || te.Value != "string" || te.Offset != 42 {
		t.Fatalf("got field %q value %q offset %d", te.Field, te.Value, te.Offset)
	}
	if !strings.Contains(err.Error(), "files[1].length") {
		t.Fatalf("message %q lacks the field", err)
	}
	cases := []struct {
		in string
		v  any
	}{
		{"i300e", new(int8)},
		{"i-1e", new(uint)},
		{"i2e", new(bool)},
		{"3:abc", new([4]byte)},
		{"li1ei2ee", new([3]int)},
		{"li1ei2ei3ei4ee", new([3]int)},
		{"le", new(string)},
		{"de", new([]int)},
		{"i1e", new(map[string]int)},
		{"i1e", new(float64)},
		{"de", new(map[int]int)},
		{"i1e", new(io.Reader)},
	}
	for _, c := range cases {
		if err := Unmarshal([]byte(c.in), c.v); !errors.As(err, &te) {
			t.Errorf("Unmarshal(%q, %T) = %v, want *UnmarshalTypeError", c.in, c.v, err)
		}
	}
	// A malformed value where a type mismatch would also occur reports
	// the syntax error.
	var n int
	var se *SyntaxError
	if err := Unmarshal([]byte("d1:bi1e1:ai1ee"), &n); !errors.As(err, &se) {
		t.Fatalf("got %v, want *SyntaxError", err)
	}
	if err := Unmarshal([]byte("i1e"), n); !errors.As(err, new(*InvalidUnmarshalError)) {
		t.Fatalf("non-pointer: %v", err)
	}
	if err := Unmarshal([]byte("i1e"), (*int)(nil)); !errors.As(err, new(*InvalidUnmarshalError)) {
		t.Fatalf("nil pointer: %v", err)
	}
}

func TestIntKinds(t *testing.T) {
	var s struct {
		A int8   `bencode:"a"`
		B uint8  `bencode:"b"`
		C int32  `bencode:"c"`
		D uint64 `bencode:"d"`
		E bool   `bencode:"e"`
	}
	if err := Unmarshal([]byte("d1:ai-128e1:bi255e1:ci2147483647e1:di9223372036854775807e1:ei1ee"), &s); err != nil {
		t.Fatal(err)
	}
	if s.A != -128 || s.B != 255 || s.C != math.MaxInt32 || s.D != math.MaxInt64 || !s.E {
		t.Fatalf("%+v", s)
	}
	if _, err := Marshal(uint64(math.MaxUint64)); err == nil {
		t.Fatal("uint64 beyond int64 encoded")
	}
}

type embedded struct {
	A int `bencode:"a"`
	B int `bencode:"b"`
}

type withEmbedded struct {
	embedded
	*Ptr
	B int `bencode:"b"` // shadows embedded.B
}

// Ptr is exported so that the embedded pointer can be allocated.
type Ptr struct {
	C int `bencode:"c"`
}

func TestEmbedded(t *testing.T) {
	var v withEmbedded
	if err := Unmarshal([]byte("d1:ai1e1:bi2e1:ci3ee"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 1 || v.B != 2 || v.embedded.B != 0 || v.Ptr == nil || v.C != 3 {
		t.Fatalf("%+v", v)
	}
	b, err := Marshal(withEmbedded{embedded: embedded{A: 5}})
	if err != nil || string(b) != "d1:ai5e1:bi0ee" {
		t.Fatalf("Marshal = %q, %v", b, err)
	}
}

type upper string

func (u *upper) UnmarshalBencode(b []byte) error {
	var s string
	if err := Unmarshal(b, &s); err != nil {
		return err
	}
	*u = upper(strings.ToUpper(s))
	return nil
}

func (u upper) MarshalBencode() ([]byte, error) { return Marshal(strings.ToLower(string(u))) }

func TestMarshalerInterfaces(t *testing.T) {
	var v struct {
		U upper `bencode:"u"`
	}
	if err := Unmarshal([]byte("d1:u2:hie"), &v); err != nil || v.U != "HI" {
		t.Fatalf("%v %q", err, v.U)
	}
	b, err := Marshal(v)
	if err != nil || string(b) != "d1:u2:hie" {
		t.Fatalf("%q %v", b, err)
	}
	var m map[string]upper
	if err := Unmarshal([]byte("d1:a1:xe"), &m); err != nil || m["a"] != "X" {
		t.Fatalf("%v %v", err, m)
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, v := range []any{nil, 1.5, map[int]int{1: 1}, []any{nil}, make(chan int), (*int)(nil), map[string]any{"a": nil}} {
		if b, err := Marshal(v); err == nil {
			t.Errorf("Marshal(%#v) = %q, want an error", v, b)
		}
	}
}

func TestValid(t *testing.T) {
	if !Valid([]byte("d1:ai1ee")) || Valid([]byte("d1:ai1ee ")) || Valid([]byte("d1:bi1e1:ai1ee")) || Valid(nil) {
		t.Fatal("Valid wrong")
	}
}

type node struct {
	Name     string  `bencode:"n"`
	Children []*node `bencode:"c,omitempty"`
}

func TestRecursiveType(t *testing.T) {
	in := "d1:cld1:n1:bed1:n1:cee1:n1:ae"
	var n node
	if err := Unmarshal([]byte(in), &n); err != nil {
		t.Fatal(err)
	}
	if n.Name != "a" || len(n.Children) != 2 || n.Children[1].Name != "c" {
		t.Fatalf("%+v", n)
	}
	b, err := Marshal(&n)
	if err != nil || string(b) != in {
		t.Fatalf("%q %v", b, err)
	}
}

type cyc struct {
	Next *cyc `bencode:"n"`
}

func TestMarshalCycle(t *testing.T) {
	c := &cyc{}
	c.Next = c
	if _, err := Marshal(c); !errors.As(err, new(*UnsupportedValueError)) {
		t.Fatalf("got %v", err)
	}
	l := []any{nil}
	l[0] = l
	if _, err := Marshal(l); !errors.As(err, new(*UnsupportedValueError)) {
		t.Fatalf("got %v", err)
	}
}

func TestMaxTokens(t *testing.T) {
	in := []byte("l" + strings.Repeat("i1e", 9) + "e") // 10 values
	var v any
	if err := UnmarshalLimits(in, &v, Limits{MaxTokens: 10}); err != nil {
		t.Fatalf("10 tokens, limit 10: %v", err)
	}
	if err := UnmarshalLimits(in, &v, Limits{MaxTokens: 9}); !errors.Is(err, ErrLimit) {
		t.Fatalf("10 tokens, limit 9: %v", err)
	}
	d := NewDecoder(strings.NewReader(string(in)))
	d.SetLimits(Limits{MaxTokens: 9})
	if err := d.Decode(&v); !errors.Is(err, ErrLimit) {
		t.Fatalf("stream, limit 9: %v", err)
	}
	d = NewDecoder(strings.NewReader(string(in) + string(in)))
	d.SetLimits(Limits{MaxTokens: 10})
	for range 2 { // the count is per value
		if err := d.Decode(&v); err != nil {
			t.Fatalf("stream, limit 10: %v", err)
		}
	}
	// Keys count: d1:ai1ee is 3 values.
	if err := UnmarshalLimits([]byte("d1:ai1ee"), &v, Limits{MaxTokens: 2}); !errors.Is(err, ErrLimit) {
		t.Fatalf("keys: %v", err)
	}
	// A memory bomb (empty dictionaries, 2 bytes each, decoded into
	// structs) stops at the cap; by default the cap is 3,000,000.
	bomb := []byte("l" + strings.Repeat("de", 100_000) + "e")
	var s []struct{ A, B, C []string }
	if err := UnmarshalLimits(bomb, &s, Limits{MaxTokens: 50_000}); !errors.Is(err, ErrLimit) {
		t.Fatalf("bomb: %v", err)
	}
	if (Limits{}).withDefaults().MaxTokens != DefaultMaxTokens {
		t.Fatal("no default token cap")
	}
}

type failing struct{}

var errFail = errors.New("fail")

func (*failing) UnmarshalBencode([]byte) error  { return errFail }
func (failing) MarshalBencode() ([]byte, error) { return nil, errFail }

type badMarshaler struct{}

func (badMarshaler) MarshalBencode() ([]byte, error) { return []byte("i1"), nil }

func TestMethodErrors(t *testing.T) {
	var v struct {
		F failing `bencode:"f"`
	}
	err := Unmarshal([]byte("d1:fi1ee"), &v)
	var me *MarshalerError
	if !errors.As(err, &me) || !errors.Is(err, errFail) || !strings.Contains(err.Error(), "fail") {
		t.Fatalf("got %v", err)
	}
	// The value is validated before the method sees it.
	var se *SyntaxError
	if err := Unmarshal([]byte("d1:fi01ee"), &v); !errors.As(err, &se) {
		t.Fatalf("got %v", err)
	}
	if _, err := Marshal(failing{}); !errors.Is(err, errFail) {
		t.Fatalf("got %v", err)
	}
	if _, err := Marshal(badMarshaler{}); !errors.As(err, new(*UnsupportedValueError)) || !strings.Contains(err.Error(), "invalid bencode") {
		t.Fatalf("got %v", err)
	}
	if _, err := Marshal(1.5); !errors.As(err, new(*UnsupportedTypeError)) || err.Error() != "bencode: unsupported type float64" {
		t.Fatalf("got %v", err)
	}
	if err := Unmarshal([]byte("i1e"), 3); err == nil || err.Error() != "bencode: Unmarshal(non-pointer int)" {
		t.Fatalf("got %v", err)
	}
}

type countingWriter struct {
	writes int
	buf    strings.Builder
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.buf.Write(p)
}

func TestEncoder(t *testing.T) {
	var w countingWriter
	e := NewEncoder(&w)
	if err := e.Encode(map[string]any{"a": []any{int64(1), "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.Encode(1.5); err == nil {
		t.Fatal("float encoded")
	}
	if err := e.Encode("z"); err != nil {
		t.Fatal(err)
	}
	if w.buf.String() != "d1:ali1e1:xee1:z" || w.writes != 2 {
		t.Fatalf("wrote %q in %d writes", w.buf.String(), w.writes)
	}
}
