package metainfo

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseMetainfo: Parse never panics, and whatever it accepts is
// consistent: the info-hash is the SHA-1 of the raw info bytes, pieces cover
// the data exactly, every path is safe to join, and re-encoding gives the
// same torrent back.
func FuzzParseMetainfo(f *testing.F) {
	for _, name := range []string{"hello_world.torrent", "mk-multi.torrent", "mk-single.torrent", "lt-v1pad-canon.torrent", "lt-hybrid.torrent", "lt-v2.torrent"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(mkTorrent(f, multi(file(10, "..", "x"))))
	f.Add(mkTorrent(f, multi(file(1, "a"), file(1, "a"), file(1, "a", "b"))))
	f.Add(mkTorrent(f, single(1, 16384, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error %T %v is not a *FieldError", err, err)
			}
			return
		}
		if sha1.Sum(m.InfoBytes) != m.InfoHash || !strings.Contains(string(data), string(m.InfoBytes)) {
			t.Fatal("info-hash not over the raw info bytes")
		}
		checkInfo(t, &m.Info)
		enc, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(m2.Info, m.Info) || m2.InfoHash != m.InfoHash || !reflect.DeepEqual(m2.Trackers(), m.Trackers()) {
			t.Fatal("re-encoding changed the torrent")
		}
	})
}

// checkInfo asserts what every accepted info dictionary satisfies: pieces
// cover the data exactly, files are laid end to end, and every path
// component is safe to join and stable under sanitising.
func checkInfo(t *testing.T, i *Info) {
	t.Helper()
	if i.NumPieces() == 0 || int64(i.NumPieces()-1)*i.PieceLength >= i.Length || int64(i.NumPieces())*i.PieceLength < i.Length {
		t.Fatalf("%d pieces of %d for %d bytes", i.NumPieces(), i.PieceLength, i.Length)
	}
	var off int64
	for _, fl := range i.Files {
		if fl.Offset != off || fl.Length < 0 || len(fl.Path) == 0 || len(fl.Path) > MaxPathDepth+1 {
			t.Fatalf("bad file %+v", fl)
		}
		off += fl.Length
		for _, c := range fl.Path {
			if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\\\x00") {
				t.Fatalf("unsafe component %q in %q", c, fl.Path)
			}
			if out, ok, err := SanitizeComponent(c); !ok || err != nil || out != c {
				t.Fatalf("component %q is not stable under sanitising (%q)", c, out)
			}
		}
	}
	if off != i.Length {
		t.Fatalf("files sum to %d, length %d", off, i.Length)
	}
}

// FuzzParseInfo: ParseInfo (a bare info dictionary, as BEP 9 metadata
// exchange delivers it from untrusted peers) never panics; what it accepts
// satisfies checkInfo, is hashed over exactly the bytes given, keeps its
// own copy of them, and is the torrent Parse reads from a file wrapping
// the same dictionary.
func FuzzParseInfo(f *testing.F) {
	for _, name := range []string{"hello_world.torrent", "mk-multi.torrent", "mk-single.torrent", "lt-v1pad-canon.torrent", "lt-hybrid.torrent", "lt-v1-single.torrent"} {
		m, err := Load(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.InfoBytes)
	}
	f.Add([]byte("d6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces20:" + strings.Repeat("h", 20) + "e"))
	f.Add([]byte("d5:filesld6:lengthi1e4:pathl2:..1:xeee4:name1:d12:piece lengthi16384e6:pieces20:" + strings.Repeat("h", 20) + "e"))
	f.Add([]byte("d6:lengthi-1e4:name0:12:piece lengthi0e6:pieces0:e"))
	f.Add([]byte("le"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		m, err := ParseInfo(in)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error %T %v is not a *FieldError", err, err)
			}
			return
		}
		in[0] ^= 0xff // ParseInfo copied its input
		if !bytes.Equal(m.InfoBytes, data) || sha1.Sum(data) != m.InfoHash {
			t.Fatal("info-hash not over the bytes given, or the bytes not copied")
		}
		checkInfo(t, &m.Info)
		wrapped := append(append([]byte("d4:info"), data...), 'e')
		m2, err := Parse(wrapped)
		if err != nil {
			t.Fatalf("ParseInfo accepts the dictionary, Parse refuses it in a torrent: %v", err)
		}
		if !reflect.DeepEqual(m2.Info, m.Info) || m2.InfoHash != m.InfoHash || m2.Hybrid != m.Hybrid {
			t.Fatal("ParseInfo and Parse read the same dictionary differently")
		}
	})
}

// FuzzParseMagnet: ParseMagnet never panics, and String() of what it
// accepts parses back to the same Magnet (so String is canonical).
func FuzzParseMagnet(f *testing.F) {
	for _, s := range []string{
		"magnet:?xt=urn:btih:2af633c618e64c9ea3972789f5764fbea6f42d40&dn=hello&tr=http%3A%2F%2Ft%2Fa",
		"magnet:?xt=urn:btih:FL3DHRQY4ZGJ5I4XE6E7K5SPX2TPILKA&so=0,2-4&x.pe=127.0.0.1:1",
		"magnet:?xt=urn:btmh:1220bd1a1ba64d2f4f07f7d9560b4492d0c378cb1fc5d9030cccbac6694458e9a05e",
		"magnet:?xt.1=urn:btih:2af633c618e64c9ea3972789f5764fbea6f42d40&tr.1=udp://x:1&ws=http://w",
		"magnet:?dn=x", "magnet:?xt=urn:btih:zz", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMagnet(s)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Fatalf("error %T is not a *FieldError", err)
			}
			return
		}
		out := m.String()
		m2, err := ParseMagnet(out)
		if err != nil {
			t.Fatalf("String() %q does not parse: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the magnet:\n%+v\n%+v", m, m2)
		}
		if m2.String() != out {
			t.Fatal("String is not canonical")
		}
	})
}

// FuzzSanitizeComponent: a sanitised component is a safe, stable file name.
func FuzzSanitizeComponent(f *testing.F) {
	for _, s := range []string{"..", ".", "", "a/b", "con.txt", "x. ", "\u202e", "\xff", "C:", strings.Repeat("é", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, ok, err := SanitizeComponent(s)
		if err != nil {
			if s != ".." {
				t.Fatalf("%q refused", s)
			}
			return
		}
		if !ok {
			if s != "" && s != "." {
				t.Fatalf("%q dropped", s)
			}
			return
		}
		if out == "" || out == "." || out == ".." || strings.ContainsAny(out, "/\\\x00") || len(out) > 255 || !utf8.ValidString(out) {
			t.Fatalf("%q -> unsafe %q", s, out)
		}
		if again, ok, err := SanitizeComponent(out); !ok || err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

// FuzzParseMagnetOrHash: no panic; errors are *FieldError; what parses has
// a v1 info-hash, is recognised by LooksLikeMagnetOrHash, and its magnet
// String parses back to the same info-hash.
func FuzzParseMagnetOrHash(f *testing.F) {
	for _, s := range []string{
		"2af633c618e64c9ea3972789f5764fbea6f42d40", "FL3DHRQY4ZGJ5I4XE6E7K5SPX2TPILKA",
		"magnet:?xt=urn:btih:2af633c618e64c9ea3972789f5764fbea6f42d40&x.pe=[::1]:1",
		"magnet:?xt=urn:btmh:1220bd1a1ba64d2f4f07f7d9560b4492d0c378cb1fc5d9030cccbac6694458e9a05e",
		"bd1a1ba64d2f4f07f7d9560b4492d0c378cb1fc5d9030cccbac6694458e9a05e", "", " x ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMagnetOrHash(s)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		if !m.HasV1 || !LooksLikeMagnetOrHash(s) {
			t.Fatalf("%q: %+v", s, m)
		}
		m2, err := ParseMagnetOrHash(m.String())
		if err != nil || m2.InfoHash != m.InfoHash {
			t.Fatalf("%q: String %q: %v", s, m.String(), err)
		}
		m.PeerAddrs()
	})
}
