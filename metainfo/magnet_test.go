package metainfo

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseMagnet(t *testing.T) {
	const hexHash = "2af633c618e64c9ea3972789f5764fbea6f42d40"
	var want [20]byte
	hex.Decode(want[:], []byte(hexHash))

	m, err := ParseMagnet("magnet:?xt=urn:btih:" + strings.ToUpper(hexHash) +
		"&dn=hello+world%21&tr=http%3A%2F%2Ft1%2Fannounce&tr=udp://t2:80&tr.1=http%3A%2F%2Ft1%2Fannounce" +
		"&x.pe=127.0.0.1:6881&x.pe=[::1]:51413&so=0,2,4-6&ws=http%3A%2F%2Fw%2F&xl=13&unknown=1")
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasV1 || m.InfoHash != want || m.HasV2 || m.Name != "hello world!" {
		t.Fatalf("%+v", m)
	}
	if !reflect.DeepEqual(m.Trackers, []string{"http://t1/announce", "udp://t2:80"}) ||
		!reflect.DeepEqual(m.Peers, []string{"127.0.0.1:6881", "[::1]:51413"}) ||
		!reflect.DeepEqual(m.SelectOnly, []FileRange{{0, 0}, {2, 2}, {4, 6}}) ||
		!reflect.DeepEqual(m.WebSeeds, []string{"http://w/"}) {
		t.Fatalf("%+v", m)
	}
	if !m.Selects(5) || m.Selects(3) || !(&Magnet{}).Selects(3) {
		t.Fatal("Selects")
	}
	s := m.String()
	wantS := "magnet:?xt=urn:btih:" + hexHash + "&dn=hello+world%21&tr=http%3A%2F%2Ft1%2Fannounce&tr=udp%3A%2F%2Ft2%3A80&ws=http%3A%2F%2Fw%2F&x.pe=127.0.0.1:6881&x.pe=[::1]:51413&so=0,2,4-6"
	if s != wantS {
		t.Fatalf("String:\n got %s\nwant %s", s, wantS)
	}
	m2, err := ParseMagnet(s)
	if err != nil || !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, m, m2)
	}

	// Base32 form of the same hash.
	b32, err := ParseMagnet("magnet:?xt=urn:btih:FL3DHRQY4ZGJ5I4XE6E7K5SPX2TPILKA")
	if err != nil || b32.InfoHash != want {
		t.Fatalf("base32: %v %x", err, b32.InfoHash)
	}
	lower, err := ParseMagnet("magnet:?xt=urn:btih:fl3dhrqy4zgj5i4xe6e7k5spx2tpilka")
	if err != nil || lower.InfoHash != want {
		t.Fatalf("base32 lower case: %v", err)
	}

	// v2 (btmh) alone and hybrid.
	v2hex := "bd1a1ba64d2f4f07f7d9560b4492d0c378cb1fc5d9030cccbac6694458e9a05e"
	v2, err := ParseMagnet("magnet:?xt=urn:btmh:1220" + v2hex)
	if err != nil || !v2.HasV2 || v2.HasV1 || hex.EncodeToString(v2.InfoHashV2[:]) != v2hex {
		t.Fatalf("btmh: %v %+v", err, v2)
	}
	hy, err := ParseMagnet("magnet:?xt=urn:btih:" + hexHash + "&xt=urn:btmh:1220" + v2hex + "&dn=x")
	if err != nil || !hy.HasV1 || !hy.HasV2 {
		t.Fatalf("hybrid: %v", err)
	}
	if hy.String() != "magnet:?xt=urn:btih:"+hexHash+"&xt=urn:btmh:1220"+v2hex+"&dn=x" {
		t.Fatalf("hybrid String %s", hy.String())
	}
}

func TestParseMagnetErrors(t *testing.T) {
	h := "2af633c618e64c9ea3972789f5764fbea6f42d40"
	tests := []struct{ uri, field, msg string }{
		{"http://x", "", "not a magnet URI"},
		{"magnet:?dn=x", "xt", "no urn:btih: or urn:btmh:"},
		{"magnet:?xt=urn:sha1:abc", "xt", "no urn:btih:"},
		{"magnet:?xt=urn:btih:123", "xt", "has 3 characters"},
		{"magnet:?xt=urn:btih:" + strings.Repeat("z", 40), "xt", "is not hex"},
		{"magnet:?xt=urn:btih:" + strings.Repeat("1", 32), "xt", "is not base32"},
		{"magnet:?xt=urn:btih:" + h + "&xt=urn:btih:" + strings.Repeat("0", 40), "xt", "two different"},
		{"magnet:?xt=urn:btmh:1120" + strings.Repeat("0", 64), "xt", "not a SHA-256 multihash"},
		{"magnet:?xt=urn:btmh:12" + strings.Repeat("0", 64), "xt", "not a SHA-256 multihash"},
		{"magnet:?xt=urn:btih:" + h + "&x.pe=nohost", "x.pe", "not host:port"},
		{"magnet:?xt=urn:btih:" + h + "&x.pe=h:0", "x.pe", "bad port"},
		{"magnet:?xt=urn:btih:" + h + "&so=3-1", "so", "not a file index or range"},
		{"magnet:?xt=urn:btih:" + h + "&so=a", "so", "not a file index"},
		{"magnet:?xt=urn:btih:" + h + "&so=-1", "so", "not a file index"},
		{"magnet:?xt=urn:btih:" + h + "&so=1,,2", "so", "not a file index"},
		{"magnet:?xt=urn:btih:" + h + "&dn=%zz", "dn", "bad escape"},
		{"magnet:?xt=urn:btih:" + h + "&tr=" + strings.Repeat("a", MaxMagnetLen), "", "exceeds the limit"},
	}
	for _, tt := range tests {
		_, err := ParseMagnet(tt.uri)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
			t.Errorf("ParseMagnet(%.60q) = %v; want field %q msg %q", tt.uri, err, tt.field, tt.msg)
		}
	}
}

func TestMetaInfoMagnet(t *testing.T) {
	m, err := Load("testdata/mk-single.torrent")
	if err != nil {
		t.Fatal(err)
	}
	s := m.Magnet().String()
	want := "magnet:?xt=urn:btih:6e90cd8701542a9fedf4bfea57817ab23817e65c&dn=single.bin" +
		"&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=http%3A%2F%2F127.0.0.1%3A6970%2Fannounce&tr=udp%3A%2F%2F127.0.0.1%3A6969" +
		"&ws=http%3A%2F%2F127.0.0.1%3A8080%2Fseed"
	if s != want {
		t.Fatalf("got  %s\nwant %s", s, want)
	}
}
