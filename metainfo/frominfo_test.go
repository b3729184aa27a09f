package metainfo

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseMagnetOrHash(t *testing.T) {
	const h = "2af633c618e64c9ea3972789f5764fbea6f42d40"
	var want [20]byte
	hex.Decode(want[:], []byte(h))
	v2 := "bd1a1ba64d2f4f07f7d9560b4492d0c378cb1fc5d9030cccbac6694458e9a05e"
	for _, s := range []string{
		h, strings.ToUpper(h), "  " + h + "\n",
		"FL3DHRQY4ZGJ5I4XE6E7K5SPX2TPILKA", "fl3dhrqy4zgj5i4xe6e7k5spx2tpilka",
		"magnet:?xt=urn:btih:" + h + "&tr=udp://t:1",
		"MAGNET:?xt=urn:btih:" + h,
		"magnet:?xt=urn:btih:" + h + "&xt=urn:btmh:1220" + v2, // hybrid: fine through v1
	} {
		m, err := ParseMagnetOrHash(s)
		if err != nil || !m.HasV1 || m.InfoHash != want {
			t.Errorf("%q: %v %+v", s, err, m)
		}
		if !LooksLikeMagnetOrHash(s) {
			t.Errorf("%q does not look like a magnet or hash", s)
		}
	}
	for _, c := range []struct {
		in, msg string
		err     error
	}{
		{"magnet:?xt=urn:btmh:1220" + v2, "v2 is not supported yet", ErrV2Only},
		{v2, "v2 is not supported yet", ErrV2Only},
		{"", "empty", ErrMalformed},
		{h[:39], "neither a magnet link", ErrMalformed},
		{h + "0", "neither a magnet link", ErrMalformed},
		{strings.Repeat("1", 32), "neither a magnet link", ErrMalformed},
		{"file.torrent", "neither a magnet link", ErrMalformed},
		{"magnet:?dn=x", "no urn:btih:", ErrMalformed},
		{"magnet:x", "not a magnet URI", ErrMalformed},
	} {
		_, err := ParseMagnetOrHash(c.in)
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%.50q: %v; want %v containing %q", c.in, err, c.err, c.msg)
		}
	}
	for _, s := range []string{"", "file.torrent", h[:39], "dir/" + h, strings.Repeat("1", 32)} {
		if LooksLikeMagnetOrHash(s) {
			t.Errorf("%q looks like a magnet or hash", s)
		}
	}
	if !LooksLikeMagnetOrHash(v2) {
		t.Error("a v2 hash should be recognised (and then refused with the v2 message)")
	}
}

func TestMagnetPeerAddrsAndTiers(t *testing.T) {
	m, err := ParseMagnet("magnet:?xt=urn:btih:2af633c618e64c9ea3972789f5764fbea6f42d40" +
		"&x.pe=127.0.0.1:6881&x.pe=example.org:6881&x.pe=[::1]:51413&x.pe=[::ffff:1.2.3.4]:5&tr=http://a/announce&tr=udp://b:1")
	if err != nil {
		t.Fatal(err)
	}
	addrs, hosts := m.PeerAddrs()
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:6881"), netip.MustParseAddrPort("[::1]:51413"), netip.MustParseAddrPort("1.2.3.4:5")}
	if !slices.Equal(addrs, want) || !slices.Equal(hosts, []string{"example.org:6881"}) {
		t.Fatalf("%v %v", addrs, hosts)
	}
	if tiers := m.TrackerTiers(); !reflect.DeepEqual(tiers, [][]string{{"http://a/announce"}, {"udp://b:1"}}) {
		t.Fatalf("tiers %v", tiers)
	}
	if (&Magnet{}).TrackerTiers() != nil {
		t.Fatal("tiers of no trackers")
	}
}

// A .torrent built around fetched info bytes parses back with the same
// info-hash, info and trackers, for every v1 and hybrid test torrent.
func TestMagnetMetaInfoRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.torrent")
	n := 0
	for _, f := range files {
		orig, err := Load(f)
		if err != nil {
			continue // v2-only: not fetchable by v1 info-hash
		}
		n++
		mg := orig.Magnet()
		mg.Trackers = append(mg.Trackers, "udp://extra:1")
		mi, err := mg.MetaInfo(orig.InfoBytes)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		data, err := mi.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if back.InfoHash != orig.InfoHash || back.Hybrid != orig.Hybrid || !reflect.DeepEqual(back.Info, orig.Info) {
			t.Fatalf("%s: info-hash or info changed", f)
		}
		if !reflect.DeepEqual(back.Trackers(), mg.TrackerTiers()) || back.Announce != mg.Trackers[0] ||
			!slices.Equal(back.URLList, orig.URLList) {
			t.Fatalf("%s: trackers %v, web seeds %v", f, back.Trackers(), back.URLList)
		}
	}
	if n < 5 {
		t.Fatalf("only %d torrents tried", n)
	}
}

func TestEncodeTorrent(t *testing.T) {
	orig, err := Load("testdata/mk-multi.torrent")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tiers    [][]string
		announce string
		list     [][]string
	}{
		{nil, "", nil},
		{[][]string{{"http://a/announce"}}, "http://a/announce", nil},
		{[][]string{{"", "http://a/announce", "http://b/announce"}, {}, {"udp://c:1"}}, "http://a/announce",
			[][]string{{"http://a/announce", "http://b/announce"}, {"udp://c:1"}}},
	} {
		data, err := EncodeTorrent(orig.InfoBytes, c.tiers, []string{"http://w/"})
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(data)
		if err != nil || back.InfoHash != orig.InfoHash {
			t.Fatalf("%v: %v", c.tiers, err)
		}
		if back.Announce != c.announce || !reflect.DeepEqual(back.AnnounceList, c.list) || !slices.Equal(back.URLList, []string{"http://w/"}) {
			t.Fatalf("%v: announce %q list %v", c.tiers, back.Announce, back.AnnounceList)
		}
	}
	if _, err := EncodeTorrent([]byte("not an info dict"), nil, nil); err == nil {
		t.Fatal("garbage encoded")
	}
}

func TestMagnetMetaInfoMismatch(t *testing.T) {
	a, _ := Load("testdata/mk-single.torrent")
	b, _ := Load("testdata/mk-multi.torrent")
	_, err := a.Magnet().MetaInfo(b.InfoBytes)
	if !errors.Is(err, ErrInfoHash) || !strings.Contains(err.Error(), "not the magnet's info-hash") {
		t.Fatalf("%v", err)
	}
	_, err = a.Magnet().MetaInfo([]byte("d4:name1:xe"))
	var fe *FieldError
	if !errors.As(err, &fe) || errors.Is(err, ErrInfoHash) {
		t.Fatalf("bad info: %v", err)
	}
	if _, err := (&Magnet{HasV2: true}).MetaInfo(a.InfoBytes); !errors.Is(err, ErrInfoHash) {
		t.Fatalf("v2-only magnet: %v", err)
	}
}
