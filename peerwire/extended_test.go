package peerwire

import (
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"testing"

	"github.com/effusion-bt/effusion/bencode"
)

func TestExtendedHandshakeRoundTrip(t *testing.T) {
	h := ExtendedHandshake{
		M:            map[string]int{"ut_metadata": 2, "ut_pex": 1, "lt_donthave": 0},
		V:            "Effusion 0.1",
		Reqq:         500,
		P:            6881,
		YourIP:       netip.MustParseAddr("127.0.0.1"),
		IPv4:         netip.MustParseAddr("10.1.2.3"),
		IPv6:         netip.MustParseAddr("2001:db8::7"),
		MetadataSize: 31235,
		UploadOnly:   true,
	}
	enc := h.Marshal()
	want := "d4:ipv44:\x0a\x01\x02\x034:ipv616:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07" +
		"1:md11:lt_donthavei0e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e4:reqqi500e" +
		"11:upload_onlyi1e1:v12:Effusion 0.16:yourip4:\x7f\x00\x00\x01e"
	if string(enc) != want {
		t.Fatalf("encoding:\n%q\nwant\n%q", enc, want)
	}
	got, err := ParseExtendedHandshake(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", got, h)
	}
	if ext := got.Extensions(); !reflect.DeepEqual(ext, []string{"ut_metadata", "ut_pex"}) {
		t.Fatalf("Extensions() = %v", ext)
	}
	if string((ExtendedHandshake{}).Marshal()) != "d1:mdee" {
		t.Fatalf("empty handshake = %q, BEP 10 requires m", (ExtendedHandshake{}).Marshal())
	}
}

// Handshakes as real clients send them (libtorrent style and a minimal
// one); unknown keys are ignored.
func TestExtendedHandshakeRealWorld(t *testing.T) {
	lt := "d12:complete_agoi-1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee13:metadata_sizei5678e4:reqqi500e11:upload_onlyi0e1:v17:libtorrent/2.0.10e"
	h, err := ParseExtendedHandshake([]byte(lt))
	if err != nil {
		t.Fatal(err)
	}
	if h.M["ut_metadata"] != 2 || h.M["ut_pex"] != 1 || h.Reqq != 500 || h.MetadataSize != 5678 || h.V != "libtorrent/2.0.10" || h.UploadOnly {
		t.Fatalf("%+v", h)
	}
	h, err = ParseExtendedHandshake([]byte("d1:md6:ut_pexi3eee"))
	if err != nil || h.M["ut_pex"] != 3 || h.P != 0 || h.YourIP.IsValid() {
		t.Fatalf("%+v %v", h, err)
	}
	h, err = ParseExtendedHandshake([]byte("d6:yourip16:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01e"))
	if err != nil || h.YourIP != netip.IPv6Loopback() {
		t.Fatalf("v6 yourip: %+v %v", h, err)
	}
}

// TestExtendedHandshakeUnsortedKeys: some clients send the handshake
// dictionary (or m) with keys out of byte order; refusing it would drop the
// peer's extensions, so the parse accepts any order but no repeated key.
func TestExtendedHandshakeUnsortedKeys(t *testing.T) {
	in := "d1:v4:test1:md6:ut_pexi1e11:ut_metadatai2ee1:pi6881e13:metadata_sizei99e4:reqqi250ee"
	var strict any
	if bencode.Unmarshal([]byte(in), &strict) == nil {
		t.Fatal("test input is sorted")
	}
	h, err := ParseExtendedHandshake([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := ExtendedHandshake{M: map[string]int{"ut_pex": 1, "ut_metadata": 2}, V: "test", P: 6881, MetadataSize: 99, Reqq: 250}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("got %+v, want %+v", h, want)
	}
}

func TestExtendedHandshakeHostile(t *testing.T) {
	cases := []struct {
		in, field string
	}{
		{"", "dictionary"},
		{"le", "dictionary"},
		{"i3e", "dictionary"},
		{"d1:mdee junk", "dictionary"},
		{"d1:v1:x1:mdee1:v1:ye", "dictionary"}, // a repeated key, even out of order
		{"d1:md1:xi1e1:xi2eee", "dictionary"},  // a repeated key in m
		{"d1:md1:xi-1eee", "m.x"},
		{"d1:md1:xi256eee", "m.x"},
		{"d1:md1:x1:1ee", "m.x"},
		{"d1:mi1ee", "m"},
		{"d1:pi65536ee", "p"},
		{"d1:pi-1ee", "p"},
		{"d1:p4:6881e", "p"},
		{"d13:metadata_sizei16777217ee", "metadata_size"},
		{"d13:metadata_sizei-5ee", "metadata_size"},
		{"d4:reqqi-1ee", "reqq"},
		{"d1:vi1ee", "v"},
		{"d6:yourip3:abce", "yourip"},
		{"d4:ipv416:0123456789abcdefe", "ipv4"},
		{"d4:ipv64:abcde", "ipv6"},
		{"d11:upload_only1:1e", "upload_only"},
	}
	for _, c := range cases {
		_, err := ParseExtendedHandshake([]byte(c.in))
		var pe *ProtocolError
		if !errors.Is(err, ErrBadExtended) || !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%q: %v, want field %q", c.in, err, c.field)
		}
	}
	deep := make([]byte, 0, 400)
	deep = append(deep, "d1:m"...)
	for range 100 {
		deep = append(deep, 'l')
	}
	for range 100 {
		deep = append(deep, 'e')
	}
	deep = append(deep, 'e')
	if _, err := ParseExtendedHandshake(deep); !errors.Is(err, ErrBadExtended) {
		t.Errorf("deep nesting: %v", err)
	}
}

// A handshake above MaxExtendedHandshake is refused before decoding: no
// map is built, nothing is allocated but the error value.
func TestExtendedHandshakeSizeCap(t *testing.T) {
	pad := func(n int) []byte {
		b := []byte("d1:md11:ut_metadatai2ee1:x")
		b = append(b, []byte(strconv.Itoa(n))...)
		b = append(b, ':')
		b = append(b, make([]byte, n)...)
		return append(b, 'e')
	}
	ok := pad(MaxExtendedHandshake - 40)
	for len(ok) < MaxExtendedHandshake {
		ok = pad(MaxExtendedHandshake - 40 + MaxExtendedHandshake - len(ok))
	}
	if len(ok) != MaxExtendedHandshake {
		t.Fatalf("test payload of %d bytes", len(ok))
	}
	if h, err := ParseExtendedHandshake(ok); err != nil || h.M["ut_metadata"] != 2 {
		t.Fatalf("at the cap: %v", err)
	}
	big := pad(MaxExtendedHandshake)
	_, err := ParseExtendedHandshake(big)
	var pe *ProtocolError
	if !errors.As(err, &pe) || !errors.Is(err, ErrBadExtended) || pe.Field != "length" || pe.Limit != MaxExtendedHandshake {
		t.Fatalf("above the cap: %v", err)
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = ParseExtendedHandshake(big) }); n > 2 { // the error only
		t.Fatalf("refusing costs %v allocations", n)
	}
}
