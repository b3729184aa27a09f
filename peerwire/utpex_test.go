package peerwire

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestPexEncodingMatchesSpec(t *testing.T) {
	p := &Pex{
		Added: []PexPeer{
			{Addr: ap("10.0.0.1:6881"), Flags: PexSeed | PexReachable},
			{Addr: ap("[2001:db8::1]:51413"), Flags: PexUTP},
			{Addr: ap("[::ffff:10.0.0.2]:1"), Flags: PexEncryption}, // IPv4-mapped: goes to "added"
			{}, // invalid: left out
		},
		Dropped: []netip.AddrPort{ap("192.168.1.2:80"), ap("[2001:db8::2]:443")},
	}
	id, payload := extPayload(t, AppendPex(nil, 9, p))
	want := "d5:added12:\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x01" +
		"7:added.f2:\x12\x01" +
		"6:added618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xc8\xd5" +
		"8:added6.f1:\x04" +
		"7:dropped6:\xc0\xa8\x01\x02\x00\x50" +
		"8:dropped618:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x01\xbb" +
		"e"
	if id != 9 || string(payload) != want {
		t.Fatalf("encoding:\n%q\nwant\n%q", payload, want)
	}
	var got Pex
	if err := ParsePex(payload, &got); err != nil {
		t.Fatal(err)
	}
	wantAdded := []PexPeer{
		{Addr: ap("10.0.0.1:6881"), Flags: PexSeed | PexReachable},
		{Addr: ap("10.0.0.2:1"), Flags: PexEncryption},
		{Addr: ap("[2001:db8::1]:51413"), Flags: PexUTP},
	}
	if !reflect.DeepEqual(got.Added, wantAdded) || !reflect.DeepEqual(got.Dropped, p.Dropped) || got.Truncated {
		t.Fatalf("round trip: %+v", got)
	}
	_, empty := extPayload(t, AppendPex(nil, 1, &Pex{}))
	if string(empty) != "d5:added0:7:added.f0:6:added60:8:added6.f0:7:dropped0:8:dropped60:e" {
		t.Fatalf("empty: %q", empty)
	}
}

// Messages as clients send them: only some keys, unsorted, no flags, flags
// of the wrong length (ignored), unknown keys, IPv4-mapped in added6.
func TestPexRealWorld(t *testing.T) {
	for _, c := range []struct {
		in      string
		added   []PexPeer
		dropped []netip.AddrPort
	}{
		{"d5:added6:\x7f\x00\x00\x01\x1a\xe1e", []PexPeer{{Addr: ap("127.0.0.1:6881")}}, nil},
		{"d7:added.f1:\x025:added6:\x7f\x00\x00\x01\x1a\xe1e", []PexPeer{{Addr: ap("127.0.0.1:6881"), Flags: PexSeed}}, nil},
		{"d5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f2:\x02\x02e", []PexPeer{{Addr: ap("127.0.0.1:6881")}}, nil},
		{"d1:xd1:ali1eee7:dropped6:\x7f\x00\x00\x01\x00\x01e", nil, []netip.AddrPort{ap("127.0.0.1:1")}},
		{"d6:added618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x0a\x00\x00\x01\x00\x02e", []PexPeer{{Addr: ap("10.0.0.1:2")}}, nil},
	} {
		var got Pex
		if err := ParsePex([]byte(c.in), &got); err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if len(got.Added) != len(c.added) || (len(c.added) > 0 && !reflect.DeepEqual(got.Added, c.added)) ||
			len(got.Dropped) != len(c.dropped) || (len(c.dropped) > 0 && !reflect.DeepEqual(got.Dropped, c.dropped)) {
			t.Fatalf("%q: %+v", c.in, got)
		}
	}
}

func TestPexCaps(t *testing.T) {
	var p Pex
	for i := range 300 {
		p.Added = append(p.Added, PexPeer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1)})
		p.Dropped = append(p.Dropped, netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 14: byte(i >> 8), 15: byte(i)}), 2))
	}
	_, payload := extPayload(t, AppendPex(nil, 1, &p))
	var got Pex
	if err := ParsePex(payload, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Added) != MaxPexEntries || len(got.Dropped) != MaxPexEntries || !got.Truncated {
		t.Fatalf("added %d dropped %d truncated %v", len(got.Added), len(got.Dropped), got.Truncated)
	}
	if !reflect.DeepEqual(got.Added, p.Added[:MaxPexEntries]) {
		t.Fatal("kept the wrong entries")
	}
	// A reused Pex is reset.
	if err := ParsePex([]byte("de"), &got); err != nil || len(got.Added)+len(got.Dropped) != 0 || got.Truncated {
		t.Fatalf("reuse: %+v %v", got, err)
	}
}

func TestPexHostile(t *testing.T) {
	for _, c := range []struct {
		in, field string
	}{
		{"", "dictionary"},
		{"i1e", "dictionary"},
		{"d5:added", "added"}, // truncated value
		{"d5:added5:abcdee", "added length"},
		{"d6:added617:" + strings.Repeat("a", 17) + "e", "added6 length"},
		{"d7:dropped7:abcdefge", "dropped length"},
		{"d8:dropped61:ae", "dropped6 length"},
		{"d5:addedi1ee", "added"},
		{"d5:added0:5:added0:e", "repeated added"},
		{"d5:added0:ee", "trailing bytes"},
		{"d1:x" + strings.Repeat("d1:x", 9) + strings.Repeat("e", 10) + "e", "dictionary"},
		{"d5:added65536:" + strings.Repeat("a", 65536) + "e", "length"},
	} {
		var p Pex
		err := ParsePex([]byte(c.in), &p)
		var pe *ProtocolError
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadPex) || pe.Field != c.field {
			t.Errorf("%.50q: got %v, want field %q", c.in, err, c.field)
		}
	}
}

func TestPexParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := &Pex{Added: []PexPeer{{Addr: ap("10.0.0.1:1")}, {Addr: ap("[2001:db8::1]:2")}}, Dropped: []netip.AddrPort{ap("10.0.0.3:3")}}
	_, payload := extPayload(t, AppendPex(nil, 1, p))
	var got Pex
	out := make([]byte, 0, 256)
	_ = ParsePex(payload, &got) // grow the slices once
	if n := testing.AllocsPerRun(100, func() {
		if err := ParsePex(payload, &got); err != nil {
			t.Fatal(err)
		}
		out = AppendPex(out[:0], 1, p)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
