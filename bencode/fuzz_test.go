package bencode

import (
	"bytes"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	anacrolix "github.com/anacrolix/torrent/bencode"
)

// containsBig reports whether a value decoded by anacrolix holds a
// *big.Int: its generic form keeps integers beyond int64 that way.
func containsBig(v any) bool {
	switch v := v.(type) {
	case *big.Int:
		return true
	case []any:
		for _, e := range v {
			if containsBig(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range v {
			if containsBig(e) {
				return true
			}
		}
	}
	return false
}

// FuzzDecode compares this decoder with github.com/anacrolix/torrent/bencode
// (pinned v1.62.0), both decoding into the generic form with the same depth
// limit (64).
//
// Allowed differences, and only these:
//   - anacrolix accepts integers outside int64 (as *big.Int); we reject them
//     with "integer does not fit in int64".
//   - anacrolix allows strings up to 128 MiB, we default to 64 MiB (fuzz
//     inputs are far smaller, so this never shows).
//
// Everything else must agree: both accept with equal values, or both reject.
// Both already reject unsorted and duplicate keys, leading zeros, "-0" and
// trailing bytes in the generic form. For every accepted input we also check
// that re-encoding gives the input back byte for byte (canonical form), and
// that the streaming Decoder, fed one byte at a time, finds the same value.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"i0e", "i-1e", "i9223372036854775807e", "i9223372036854775808e", "i-0e", "i01e",
		"0:", "4:spam", "01:a", "le", "de", "l4:spami7ee", "d3:cow3:moo4:spam4:eggse",
		"d1:bi1e1:ai2ee", "d1:ai1e1:ai2ee", "d1:ae", "i1ei2e", "ll", "d0:i1ee",
		"d4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
		"lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllleeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ours, theirs any
		errOurs := Unmarshal(data, &ours)
		errTheirs := anacrolix.Unmarshal(data, &theirs)
		switch {
		case errOurs == nil && errTheirs == nil:
			if !reflect.DeepEqual(ours, theirs) {
				t.Fatalf("values differ for %q:\n ours   %#v\n theirs %#v", data, ours, theirs)
			}
		case errOurs == nil && errTheirs != nil:
			t.Fatalf("we accept %q (%#v), anacrolix rejects: %v", data, ours, errTheirs)
		case errOurs != nil && errTheirs == nil:
			var se *SyntaxError
			if containsBig(theirs) && errors.As(errOurs, &se) && se.Msg == "integer does not fit in int64" {
				break
			}
			t.Fatalf("we reject %q (%v), anacrolix accepts %#v", data, errOurs, theirs)
		}
		if errOurs != nil {
			var se *SyntaxError
			if !errors.As(errOurs, &se) || se.Offset < 0 || se.Offset > int64(len(data)) {
				t.Fatalf("error %v for %q is not a SyntaxError within the input", errOurs, data)
			}
			return
		}
		enc, err := Marshal(ours)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("re-encoding %q gave %q, %v", data, enc, err)
		}
		var streamed any
		if err := NewDecoder(iotest.OneByteReader(bytes.NewReader(data))).Decode(&streamed); err != nil || !reflect.DeepEqual(streamed, ours) {
			t.Fatalf("stream decode of %q: %#v, %v", data, streamed, err)
		}
	})
}

// FuzzDecodeUnsorted checks Limits.AllowUnsorted against the strict decoder
// and against github.com/anacrolix/torrent/bencode (pinned v1.62.0).
// anacrolix checks key order in its generic form (values inside an any) but
// not in the top-level dictionary when decoding into a map[string]any,
// where it accepts unsorted keys and keeps the last of duplicate keys. So:
//   - whatever the strict decoder accepts, the lenient one accepts with the
//     same value; whatever the lenient one rejects, the strict one rejects;
//   - the lenient decoder and anacrolix's generic form agree as in
//     FuzzDecode, except that anacrolix may refuse what we accept, and then
//     only because of key order ("dict keys unsorted");
//   - into a map[string]any, anacrolix accepts exactly when we do, with
//     equal values, except for (a) keys out of order inside nested values,
//     which it refuses, (b) duplicate top-level keys, which it accepts and
//     we refuse, (c) the integer range difference of FuzzDecode, and (d)
//     top-level keys that are not strings, which it accepts and we refuse;
//   - an accepted value re-encodes (sorted) to input the strict decoder
//     accepts with the same value, and the streaming Decoder with the same
//     limits finds the same value one byte at a time.
func FuzzDecodeUnsorted(f *testing.F) {
	for _, s := range []string{
		"d1:bi1e1:ai2ee", "d1:ai1e1:ai2ee", "d1:bi1e1:ai2e1:bi3ee", "d1:ad1:bi1e1:ai2eee",
		"d1:ci1e1:ai2e1:bi3ee", "d1:ai1e1:ci2e1:bi3e1:ai4ee", "ld1:bi1e1:ai2eee",
		"d8:completei1e10:incompletei0e8:intervali1800e5:peers0:e",
		"d5:peers6:\x7f\x00\x00\x01\x1a\xe18:intervali900ee",
		"d1:md6:ut_pexi1e11:ut_metadatai2ee1:pi6881e1:v4:teste",
		"d1:bi9223372036854775808e1:ai1ee",
	} {
		f.Add([]byte(s))
	}
	lim := Limits{AllowUnsorted: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		var strict, ours any
		errStrict := Unmarshal(data, &strict)
		errOurs := UnmarshalLimits(data, &ours, lim)
		if errStrict == nil && (errOurs != nil || !reflect.DeepEqual(ours, strict)) {
			t.Fatalf("strict accepts %q (%#v), lenient gives %#v, %v", data, strict, ours, errOurs)
		}
		var se *SyntaxError
		if errOurs != nil && (!errors.As(errOurs, &se) || se.Offset < 0 || se.Offset > int64(len(data))) {
			t.Fatalf("error %v for %q is not a SyntaxError within the input", errOurs, data)
		}
		bigInt := errOurs != nil && se.Msg == "integer does not fit in int64"
		duplicate := errOurs != nil && strings.HasPrefix(se.Msg, "duplicate dictionary key")

		var theirs any
		errTheirs := anacrolix.Unmarshal(data, &theirs)
		switch {
		case errOurs == nil && errTheirs == nil:
			if !reflect.DeepEqual(ours, theirs) {
				t.Fatalf("values differ for %q:\n ours   %#v\n theirs %#v", data, ours, theirs)
			}
		case errOurs == nil && errTheirs != nil:
			if !strings.Contains(errTheirs.Error(), "dict keys unsorted") {
				t.Fatalf("we accept %q (%#v), anacrolix rejects: %v", data, ours, errTheirs)
			}
		case errOurs != nil && errTheirs == nil:
			if !(bigInt && containsBig(theirs)) {
				t.Fatalf("we reject %q (%v), anacrolix accepts %#v", data, errOurs, theirs)
			}
		}

		if len(data) > 0 && data[0] == 'd' {
			var ourMap, theirMap map[string]any
			errOurMap := UnmarshalLimits(data, &ourMap, lim)
			if (errOurMap == nil) != (errOurs == nil) {
				t.Fatalf("%q: into any %v, into a map %v", data, errOurs, errOurMap)
			}
			errTheirMap := anacrolix.Unmarshal(data, &theirMap)
			switch {
			case errOurMap == nil && errTheirMap == nil:
				// anacrolix leaves the map nil for "de".
				if len(ourMap)+len(theirMap) > 0 && !reflect.DeepEqual(ourMap, theirMap) {
					t.Fatalf("map values differ for %q:\n ours   %#v\n theirs %#v", data, ourMap, theirMap)
				}
			case errOurMap == nil && errTheirMap != nil:
				if !strings.Contains(errTheirMap.Error(), "dict keys unsorted") {
					t.Fatalf("we accept %q into a map, anacrolix rejects: %v", data, errTheirMap)
				}
			case errOurMap != nil && errTheirMap == nil:
				// A big integer may be hidden by a later duplicate key,
				// hence no containsBig here.
				// anacrolix also takes a list as a top-level map key
				// ("dl1:0e1:0e"); we refuse non-string keys.
				if !duplicate && !bigInt && !strings.HasPrefix(se.Msg, "expected a string dictionary key") {
					t.Fatalf("we reject %q into a map (%v), anacrolix accepts %#v", data, errOurMap, theirMap)
				}
			}
		}

		if errOurs != nil {
			return
		}
		enc, err := Marshal(ours)
		if err != nil {
			t.Fatalf("Marshal(%#v): %v", ours, err)
		}
		var again any
		if err := Unmarshal(enc, &again); err != nil || !reflect.DeepEqual(again, ours) {
			t.Fatalf("re-encoded %q as %q: strict decode gives %#v, %v", data, enc, again, err)
		}
		var streamed any
		d := NewDecoder(iotest.OneByteReader(bytes.NewReader(data)))
		d.SetLimits(lim)
		if err := d.Decode(&streamed); err != nil || !reflect.DeepEqual(streamed, ours) {
			t.Fatalf("stream decode of %q: %#v, %v", data, streamed, err)
		}
	})
}

// FuzzStream checks that the streaming Decoder never accepts what Unmarshal
// refuses, splits a stream into the same values, and never panics.
func FuzzStream(f *testing.F) {
	f.Add([]byte("i1ei2e"))
	f.Add([]byte("d1:ai1eeli1ee"))
	f.Add([]byte("5:abc"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(iotest.HalfReader(bytes.NewReader(data)))
		var prev int64
		for range 100 {
			var v any
			if err := d.Decode(&v); err != nil {
				return
			}
			off := d.InputOffset()
			var again any
			if err := Unmarshal(data[prev:off], &again); err != nil || !reflect.DeepEqual(again, v) {
				t.Fatalf("stream value %#v at %d..%d, Unmarshal gives %#v, %v", v, prev, off, again, err)
			}
			prev = off
		}
	})
}

// fuzzTarget exercises the typed decoders: nested structs, pointers, maps,
// arrays, every integer kind, bool, RawMessage and any.
type fuzzTarget struct {
	I8   int8              `bencode:"a"`
	U16  uint16            `bencode:"b"`
	I    int               `bencode:"c"`
	B    bool              `bencode:"d"`
	S    string            `bencode:"e"`
	Bs   []byte            `bencode:"f"`
	Arr  [2]byte           `bencode:"g"`
	L    []int64           `bencode:"h"`
	M    map[string]string `bencode:"i"`
	P    *fuzzTarget       `bencode:"j"`
	Raw  RawMessage        `bencode:"k,omitempty"`
	Any  any               `bencode:"l"`
	Ints [3]int32          `bencode:"m"`
}

// FuzzUnmarshalTyped: decoding into Go types never panics, reports only
// the documented error types, and whatever decodes survives a round trip.
func FuzzUnmarshalTyped(f *testing.F) {
	f.Add([]byte("d1:ai-1e1:bi65535e1:ci7e1:di1e1:e2:hi1:f0:1:g2:ab1:hli1ei2ee1:id1:x1:ye1:jd1:ai2ee1:kli1ee1:l3:any1:mli1ei2ei3eee"))
	f.Add([]byte("d1:ai300ee"))
	f.Add([]byte("d1:jd1:jd1:jdeeee"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v fuzzTarget
		err := Unmarshal(data, &v)
		if err != nil {
			switch err.(type) {
			case *SyntaxError, *UnmarshalTypeError, *MarshalerError:
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		enc, err := Marshal(&v)
		if err != nil {
			t.Fatalf("Marshal after a successful Unmarshal: %v", err)
		}
		var w fuzzTarget
		if err := Unmarshal(enc, &w); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		enc2, err := Marshal(&w)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip not stable:\n%q\n%q", enc, enc2)
		}
	})
}
