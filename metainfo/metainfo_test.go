package metainfo

import (
	"crypto/sha1"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

// Info-hashes and figures were computed with python3-libtorrent 2.0.8
// (lt.torrent_info(f).info_hashes()), an independent implementation.
func TestRealWorldTorrents(t *testing.T) {
	tests := []struct {
		file       string
		hash       string
		hashV2     string
		name       string
		total      int64
		pieceLen   int64
		pieces     int
		files      int // including padding
		pads       int
		multi      bool
		private    bool
		trackers   [][]string
		webSeeds   []string
		createdBy  string
		created    int64
		firstPath  []string
		firstBytes int64
	}{
		{file: "hello_world.torrent", hash: "2af633c618e64c9ea3972789f5764fbea6f42d40", name: "hello_world", total: 13, pieceLen: 32768, pieces: 1, files: 2, multi: true,
			trackers: [][]string{{"http://localhost:6969/announce"}}, createdBy: "Transmission/2.93 (3c5870d4f5)", created: 1529344355},
		{file: "linuxmint-18.3-cinnamon-64bit.iso.torrent", hash: "d2e53fb603652d991991b6ad2357a7a2845a5319", name: "linuxmint-18.3-cinnamon-64bit.iso", total: 1899528192, pieceLen: 1 << 20, pieces: 1812, files: 1,
			trackers: [][]string{{"https://torrents.linuxmint.com/announce.php"}}, createdBy: "Transmission/2.84 (14307)", created: 1511774851,
			firstPath: []string{"linuxmint-18.3-cinnamon-64bit.iso"}, firstBytes: 1899528192},
		{file: "linuxmint-19.2-cinnamon-64bit.iso.torrent", hash: "3fe9aafd0bb6a90d79a4440d634fe79b3253e6a3", name: "linuxmint-19.2-cinnamon-64bit.iso", total: 2009333760, pieceLen: 1 << 20, pieces: 1917, files: 1,
			trackers: [][]string{{"https://torrents.linuxmint.com/announce.php"}}, createdBy: "Transmission/2.92 (14714)", created: 1564418922},
		{file: "mk-multi.torrent", hash: "14639d77da8841470f4392cdf7f260dad0701032", name: "content", total: 133338, pieceLen: 32768, pieces: 5, files: 4, multi: true,
			trackers: [][]string{{"http://127.0.0.1:6969/announce"}}, firstPath: []string{"content", "a-b", "two.bin"}, firstBytes: 33333},
		{file: "mk-single.torrent", hash: "6e90cd8701542a9fedf4bfea57817ab23817e65c", name: "single.bin", total: 70000, pieceLen: 32768, pieces: 3, files: 1, private: true,
			trackers: [][]string{{"http://127.0.0.1:6969/announce", "http://127.0.0.1:6970/announce"}, {"udp://127.0.0.1:6969"}},
			webSeeds: []string{"http://127.0.0.1:8080/seed"}, createdBy: "mktorrent 1.1"},
		{file: "lt-v1pad.torrent", hash: "307e507314b4f79055ba94aaf5922c8ff985c27f", name: "content", total: 133338, pieceLen: 32768, pieces: 5, files: 4, multi: true,
			trackers: [][]string{{"http://127.0.0.1:6969/announce"}}},
		{file: "lt-v1pad-canon.torrent", hash: "82fed863d7f38e431d66d98fb3db6a228e17d366", name: "content", total: 229376, pieceLen: 32768, pieces: 7, files: 7, pads: 3, multi: true,
			trackers: [][]string{{"http://127.0.0.1:6969/announce"}}},
		{file: "lt-hybrid.torrent", hash: "6b65b957474968f94fb507ec9932eeadca60aff2", hashV2: "bd1a1ba64d2f4f07f7d9560b4492d0c378cb1fc5d9030cccbac6694458e9a05e", name: "content", total: 229376, pieceLen: 32768, pieces: 7, files: 7, pads: 3, multi: true,
			trackers: [][]string{{"http://127.0.0.1:6969/announce"}}},
		{file: "lt-v1-single.torrent", hash: "f672a819a27ba98497f074f658622bc006efaee0", name: "single.bin", total: 70000, pieceLen: 32768, pieces: 3, files: 1,
			trackers: [][]string{{"http://127.0.0.1:6969/announce"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.InfoHashHex(); got != tt.hash {
				t.Errorf("info-hash %s, want %s", got, tt.hash)
			}
			if sha1.Sum(m.InfoBytes) != m.InfoHash {
				t.Error("InfoHash is not the SHA-1 of InfoBytes")
			}
			if tt.hashV2 != "" {
				if !m.Hybrid || hexOf(m.InfoHashV2[:]) != tt.hashV2 {
					t.Errorf("hybrid %v, v2 hash %x, want %s", m.Hybrid, m.InfoHashV2, tt.hashV2)
				}
			} else if m.Hybrid {
				t.Error("not hybrid")
			}
			i := &m.Info
			if i.Name != tt.name || i.TotalLength() != tt.total || i.PieceLength != tt.pieceLen || i.NumPieces() != tt.pieces || len(i.Files) != tt.files || i.MultiFile != tt.multi || i.Private != tt.private {
				t.Errorf("got name %q total %d piece length %d pieces %d files %d multi %v private %v",
					i.Name, i.TotalLength(), i.PieceLength, i.NumPieces(), len(i.Files), i.MultiFile, i.Private)
			}
			pads := 0
			var off int64
			for _, f := range i.Files {
				if f.Padding {
					pads++
				}
				if f.Offset != off {
					t.Errorf("file %v offset %d, want %d", f.Path, f.Offset, off)
				}
				off += f.Length
				if f.Path[0] != i.Name {
					t.Errorf("file path %v does not start with the name", f.Path)
				}
			}
			if pads != tt.pads {
				t.Errorf("%d padding files, want %d", pads, tt.pads)
			}
			var sum int64
			for p := range i.NumPieces() {
				sum += i.PieceLen(p)
			}
			if sum != i.TotalLength() || i.PieceLen(i.NumPieces()-1) <= 0 {
				t.Errorf("piece lengths sum to %d", sum)
			}
			if !reflect.DeepEqual(m.Trackers(), tt.trackers) {
				t.Errorf("trackers %q, want %q", m.Trackers(), tt.trackers)
			}
			if !reflect.DeepEqual(m.URLList, tt.webSeeds) {
				t.Errorf("web seeds %q, want %q", m.URLList, tt.webSeeds)
			}
			if tt.createdBy != "" && m.CreatedBy != tt.createdBy {
				t.Errorf("created by %q", m.CreatedBy)
			}
			if tt.created != 0 && m.CreationDate != tt.created {
				t.Errorf("creation date %d", m.CreationDate)
			}
			if tt.firstPath != nil && (!reflect.DeepEqual(i.Files[0].Path, tt.firstPath) || i.Files[0].Length != tt.firstBytes) {
				t.Errorf("first file %q %d", i.Files[0].Path, i.Files[0].Length)
			}
			// Encode keeps the info bytes, so the hash survives a round trip.
			enc, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Parse(enc)
			if err != nil || m2.InfoHash != m.InfoHash || !reflect.DeepEqual(m2.Trackers(), m.Trackers()) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}

func TestV2OnlyRefused(t *testing.T) {
	_, err := Load("testdata/lt-v2.torrent")
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrV2Only) || fe.Field != "info" {
		t.Fatalf("got %v", err)
	}
	if err.Error() != "info: v2-only torrents are not yet supported" {
		t.Fatalf("message %q", err)
	}
}

func TestHybridLayout(t *testing.T) {
	m, err := Load("testdata/lt-hybrid.torrent")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		path string
		pad  bool
	}{
		{"content/a-b/two.bin", false}, {"content/.pad/32203", true}, {"content/empty", false},
		{"content/sub/one.bin", false}, {"content/.pad/31072", true}, {"content/three.txt", false}, {"content/.pad/32763", true},
	}
	for i, f := range m.Info.Files {
		if got := filepath.Join(f.Path...); got != want[i].path || f.Padding != want[i].pad {
			t.Errorf("file %d: %s pad=%v, want %s pad=%v", i, got, f.Padding, want[i].path, want[i].pad)
		}
	}
	mg := m.Magnet()
	if !mg.HasV1 || !mg.HasV2 || mg.InfoHashV2 != m.InfoHashV2 {
		t.Fatalf("magnet %v", mg)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestParseInfo(t *testing.T) {
	m, err := Load("testdata/lt-hybrid.torrent")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseInfo(m.InfoBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got.InfoHash != m.InfoHash || got.InfoHashV2 != m.InfoHashV2 || !got.Hybrid || !reflect.DeepEqual(got.Info, m.Info) || got.Trackers() != nil {
		t.Fatalf("ParseInfo differs from Parse")
	}
	if _, err := ParseInfo([]byte("d4:name1:xe")); err == nil {
		t.Fatal("incomplete info accepted")
	}
	var fe *FieldError
	if _, err := ParseInfo([]byte("d6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces3:abce")); !errors.As(err, &fe) || fe.Field != "info.pieces" {
		t.Fatalf("got %v", err)
	}
	// A .torrent written from it parses to the same info-hash.
	got.Announce = "http://127.0.0.1/announce"
	enc, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Parse(enc); err != nil || again.InfoHash != m.InfoHash {
		t.Fatalf("%v", err)
	}
}
