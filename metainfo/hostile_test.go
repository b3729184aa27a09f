package metainfo

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/effusion-bt/effusion/bencode"
)

// mkTorrent encodes a torrent around info (generic form; Marshal sorts keys).
func mkTorrent(t testing.TB, info map[string]any) []byte {
	t.Helper()
	b, err := bencode.Marshal(map[string]any{"announce": "http://127.0.0.1/announce", "info": info})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hashes(n int) string { return strings.Repeat("h", 20*n) }

func single(length int64, pl int64, npieces int) map[string]any {
	return map[string]any{"name": "f", "length": length, "piece length": pl, "pieces": hashes(npieces)}
}

func multi(files ...any) map[string]any {
	var total int64
	for _, f := range files {
		total += f.(map[string]any)["length"].(int64)
	}
	return map[string]any{"name": "d", "files": files, "piece length": int64(16384), "pieces": hashes(int((total + 16383) / 16384))}
}

func file(length int64, path ...string) map[string]any {
	p := make([]any, len(path))
	for i, c := range path {
		p[i] = c
	}
	return map[string]any{"length": length, "path": p}
}

func TestHostileTorrents(t *testing.T) {
	deepList := strings.Repeat("l", 100) + strings.Repeat("e", 100)
	tests := []struct {
		name  string
		data  []byte
		field string
		msg   string
		is    error
	}{
		{"traversal", mkTorrent(t, multi(file(10, "..", "etc", "passwd"))), "info.files[0].path[0]", `path component ".." is not allowed`, ErrUnsafePath},
		{"traversal deep", mkTorrent(t, multi(file(10, "a", "..", "..", "x"))), "info.files[0].path[1]", `".."`, ErrUnsafePath},
		{"name dotdot", mkTorrent(t, map[string]any{"name": "..", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1)}), "info.name", `".."`, ErrUnsafePath},
		{"name dot", mkTorrent(t, map[string]any{"name": ".", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1)}), "info.name", "not a usable name", ErrMalformed},
		{"symlink escape", mkTorrent(t, multi(map[string]any{"length": int64(0), "path": []any{"l"}, "attr": "l", "symlink path": []any{"..", "x"}}, file(1, "a"))), "info.files[0].symlink path[0]", `".."`, ErrUnsafePath},
		{"pieces 39", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": strings.Repeat("h", 39)}), "info.pieces", "length 39 is not a multiple of 20", ErrMalformed},
		{"pieces too many", mkTorrent(t, single(16384, 16384, 2)), "info.pieces", "2 hashes for 16384 bytes in pieces of 16384 (want 1)", ErrMalformed},
		{"pieces too few", mkTorrent(t, single(16385, 16384, 1)), "info.pieces", "want 2", ErrMalformed},
		{"piece count limit", mkTorrent(t, single(1, 1, MaxPieces+1)), "info.pieces", "2097153 pieces exceed the limit of 2097152", ErrLimit},
		{"piece length 0", mkTorrent(t, single(1, 0, 1)), "info.piece length", "0 is not positive", ErrMalformed},
		{"piece length negative", mkTorrent(t, single(1, -16384, 1)), "info.piece length", "is not positive", ErrMalformed},
		{"piece length huge", mkTorrent(t, single(1, 1<<40, 1)), "info.piece length", "exceeds the limit", ErrLimit},
		{"piece length missing", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "pieces": hashes(1)}), "info.piece length", "missing", ErrMalformed},
		{"piece length string", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": "16384", "pieces": hashes(1)}), "info.piece length", "expected an integer, found string", nil},
		{"length negative", mkTorrent(t, single(-1, 16384, 0)), "info.length", "-1 is negative", ErrMalformed},
		{"length absurd", mkTorrent(t, single(1<<60, 1<<29, 1)), "info.length", "exceeds the limit", ErrLimit},
		{"file length negative", mkTorrent(t, map[string]any{"name": "d", "files": []any{file(-5, "a"), file(10, "b")}, "piece length": int64(16384), "pieces": hashes(1)}), "info.files[0].length", "-5 is negative", ErrMalformed},
		{"file length absurd", mkTorrent(t, map[string]any{"name": "d", "files": []any{file(1<<62, "a")}, "piece length": int64(16384), "pieces": hashes(1)}), "info.files[0].length", "exceeds the limit", ErrLimit},
		{"file length missing", mkTorrent(t, map[string]any{"name": "d", "files": []any{map[string]any{"path": []any{"a"}}}, "piece length": int64(16384), "pieces": hashes(1)}), "info.files[0].length", "missing", ErrMalformed},
		{"empty path", mkTorrent(t, multi(file(1))), "info.files[0].path", "empty path", ErrMalformed},
		{"dot-only path", mkTorrent(t, multi(file(1, ".", ""))), "info.files[0].path", "empty path", ErrMalformed},
		{"deep path", mkTorrent(t, multi(file(1, strings.Split(strings.Repeat("a/", 101), "/")[:101]...))), "info.files[0].path", "101 components exceed the limit of 100", ErrLimit},
		{"file and dir", mkTorrent(t, multi(file(1, "a"), file(1, "a", "b"))), "info.files[1].path", `directory "a" is also a file`, ErrMalformed},
		{"files and length", mkTorrent(t, map[string]any{"name": "d", "length": int64(1), "files": []any{file(1, "a")}, "piece length": int64(16384), "pieces": hashes(1)}), "info", `both "files" and "length"`, ErrMalformed},
		{"neither", mkTorrent(t, map[string]any{"name": "d", "piece length": int64(16384), "pieces": hashes(1)}), "info", `neither "files" nor "length"`, ErrMalformed},
		{"no files", mkTorrent(t, map[string]any{"name": "d", "files": []any{}, "piece length": int64(16384), "pieces": hashes(0)}), "info.files", "empty list", ErrMalformed},
		{"empty torrent", mkTorrent(t, single(0, 16384, 0)), "info", "no data", ErrMalformed},
		{"no info", []byte("d8:announce1:xe"), "info", "missing", ErrMalformed},
		{"info not a dict", []byte("d4:infoi1ee"), "info", "expected a dictionary, found integer", nil},
		{"files not a list", mkTorrent(t, map[string]any{"name": "d", "files": "x", "piece length": int64(16384), "pieces": hashes(1)}), "info.files", "expected a list, found string", nil},
		{"path element int", mkTorrent(t, map[string]any{"name": "d", "files": []any{map[string]any{"length": int64(1), "path": []any{int64(3)}}}, "piece length": int64(16384), "pieces": hashes(1)}), "info.files[0].path[0]", "expected a string, found integer", nil},
		{"meta version 3", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1), "meta version": int64(3)}), "info.meta version", "unsupported version 3", ErrMalformed},
		{"v2 only", mkTorrent(t, map[string]any{"name": "f", "piece length": int64(16384), "meta version": int64(2), "file tree": map[string]any{}}), "info", "v2-only torrents are not yet supported", ErrV2Only},
		{"hybrid mismatch", mkTorrent(t, map[string]any{"name": "f", "length": int64(16385), "piece length": int64(16384), "pieces": hashes(2), "meta version": int64(2),
			"file tree": map[string]any{"f": map[string]any{"": map[string]any{"length": int64(99999), "pieces root": strings.Repeat("r", 32)}}}}), "info", "file 0 is 16385 bytes in the v1 part but 99999 in the file tree", ErrMalformed},
		{"hybrid no tree", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1), "meta version": int64(2)}), "info.file tree", "missing in a hybrid", ErrMalformed},
		{"hybrid no pieces root", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1), "meta version": int64(2),
			"file tree": map[string]any{"f": map[string]any{"": map[string]any{"length": int64(1)}}}}), "info.file tree", "no 32-byte pieces root", ErrMalformed},
		{"hybrid leaf not dict", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1), "meta version": int64(2),
			"file tree": map[string]any{"f": int64(3)}}), "info.file tree", "is not a dictionary", ErrMalformed},
		{"hybrid odd piece length", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(20000), "pieces": hashes(1), "meta version": int64(2),
			"file tree": map[string]any{"f": map[string]any{"": map[string]any{"length": int64(1), "pieces root": strings.Repeat("r", 32)}}}}), "info.piece length", "power of two", ErrMalformed},
		{"hybrid file count", mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1), "meta version": int64(2),
			"file tree": map[string]any{"f": map[string]any{"": map[string]any{"length": int64(1), "pieces root": strings.Repeat("r", 32)}}, "g": map[string]any{"": map[string]any{"length": int64(0)}}}}), "info", "1 files in its v1 part and 2 in its file tree", ErrMalformed},
		{"hybrid ok but v1 pieces differ", mkTorrent(t, map[string]any{"name": "d", "files": []any{file(16384, "a"), file(16384, "b")}, "piece length": int64(32768), "pieces": hashes(1), "meta version": int64(2),
			"file tree": map[string]any{"a": map[string]any{"": map[string]any{"length": int64(16384), "pieces root": strings.Repeat("r", 32)}}, "b": map[string]any{"": map[string]any{"length": int64(16384), "pieces root": strings.Repeat("r", 32)}}}}), "info.pieces", "1 v1 pieces but its file tree implies 2", ErrMalformed},
		{"deep nesting", []byte("d4:infod6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces20:" + hashes(1) + "1:x" + deepList + "ee"), "", "nesting depth exceeds the limit of 64", bencode.ErrLimit},
		{"unsorted keys", []byte("d4:infod4:name1:f6:lengthi1e12:piece lengthi16384e6:pieces20:hhhhhhhhhhhhhhhhhhhhee"), "", `dictionary key "length" is not sorted after "name"`, nil},
		{"duplicate keys", []byte("d4:infod6:lengthi1e6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces20:hhhhhhhhhhhhhhhhhhhhee"), "", `duplicate dictionary key "length"`, nil},
		{"trailing garbage", append(mkTorrent(t, single(1, 16384, 1)), 'x'), "", "expected end of input", nil},
		{"not bencode", []byte("<html>"), "", "invalid bencode at offset 0", nil},
		{"truncated", mkTorrent(t, single(1, 16384, 1))[:50], "", "unexpected end of input", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.data)
			if err == nil {
				t.Fatalf("accepted: %+v", m.Info)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %T %v, want *FieldError", err, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Msg, tt.msg) {
				t.Fatalf("got field %q msg %q, want field %q msg containing %q", fe.Field, fe.Msg, tt.field, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("%v does not wrap %v", err, tt.is)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
}

func TestPiecesErrorMessage(t *testing.T) {
	_, err := Parse(mkTorrent(t, map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": strings.Repeat("h", 39)}))
	if err == nil || err.Error() != "info.pieces: length 39 is not a multiple of 20" {
		t.Fatalf("got %v", err)
	}
}

func TestSanitisedNames(t *testing.T) {
	m, err := Parse(mkTorrent(t, map[string]any{
		"name": "top\u202edir",
		"files": []any{
			file(1, "a\xffb"),
			file(1, "ctl\x01\x1f\x7f"),
			file(1, "sep/in\\side"),
			file(1, "CON"),
			file(1, "lpt1.txt"),
			file(1, "trail. . "),
			file(1, "C:", "x"),
			file(1, "zw\u200bsp\u2066"),
			file(1, "dup.txt"),
			file(1, "dup.txt"),
			file(1, "dup.txt"),
			file(1, ".", "dot", "", "x"),
			file(1, "..."),
			file(1, strings.Repeat("n", 300)+".mkv"),
			map[string]any{"length": int64(2), "path": []any{".pad", "2"}, "attr": "p"},
			map[string]any{"length": int64(2), "path": []any{".pad", "2"}, "attr": "p"},
			map[string]any{"length": int64(1), "path": []any{"ok"}, "attr": "x"},
		},
		"piece length": int64(16384), "pieces": hashes(1),
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"a_b"}, {"ctl___"}, {"sep_in_side"}, {"_CON"}, {"_lpt1.txt"}, {"trail"}, {"C_", "x"}, {"zwsp"},
		{"dup.txt"}, {"dup.1.txt"}, {"dup.2.txt"}, {"dot", "x"}, {"_"}, {strings.Repeat("n", 251) + ".mkv"},
		{".pad", "2"}, {".pad", "2"}, {"ok"},
	}
	if m.Info.Name != "topdir" {
		t.Errorf("name %q", m.Info.Name)
	}
	for i, f := range m.Info.Files {
		if !reflect.DeepEqual(f.Path[1:], want[i]) || f.Path[0] != "topdir" {
			t.Errorf("file %d: %q, want %q", i, f.Path, want[i])
		}
	}
	if !m.Info.Files[14].Padding || m.Info.Files[16].Padding || m.Info.Files[16].Attr != "x" {
		t.Error("attr")
	}
}

func TestUTF8Alternatives(t *testing.T) {
	m, err := Parse(mkTorrent(t, map[string]any{
		"name": "\xe9t\xe9", "name.utf-8": "été",
		"files":        []any{map[string]any{"length": int64(1), "path": []any{"caf\xe9"}, "path.utf-8": []any{"café"}}},
		"piece length": int64(16384), "pieces": hashes(1),
	}))
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.Name != "été" || m.Info.Files[0].Path[1] != "café" {
		t.Fatalf("%q %q", m.Info.Name, m.Info.Files[0].Path)
	}
}

func TestTrackersAndURLList(t *testing.T) {
	data, _ := bencode.Marshal(map[string]any{
		"announce":      "http://main/announce",
		"announce-list": []any{[]any{"http://a", "", "http://b"}, []any{}, []any{"http://a", "udp://c"}},
		"url-list":      []any{"http://w1", "", "http://w2"},
		"comment":       int64(5), // wrongly typed: ignored
		"creation date": "yesterday",
		"info":          single(1, 16384, 1),
	})
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Trackers(), [][]string{{"http://a", "http://b"}, {"udp://c"}}) {
		t.Fatalf("tiers %q", m.Trackers())
	}
	if !reflect.DeepEqual(m.URLList, []string{"http://w1", "http://w2"}) || m.Comment != "" || m.CreationDate != 0 {
		t.Fatalf("%q %q %d", m.URLList, m.Comment, m.CreationDate)
	}
	data, _ = bencode.Marshal(map[string]any{"announce": "http://main/announce", "info": single(1, 16384, 1)})
	if m, err = Parse(data); err != nil || !reflect.DeepEqual(m.Trackers(), [][]string{{"http://main/announce"}}) {
		t.Fatalf("%v %q", err, m.Trackers())
	}
	data, _ = bencode.Marshal(map[string]any{"announce-list": "oops", "info": single(1, 16384, 1)})
	var fe *FieldError
	if _, err = Parse(data); !errors.As(err, &fe) || fe.Field != "announce-list" {
		t.Fatalf("got %v", err)
	}
	data, _ = bencode.Marshal(map[string]any{"info": single(1, 16384, 1)})
	if m, err = Parse(data); err != nil || m.Trackers() != nil {
		t.Fatalf("%v %q", err, m.Trackers())
	}
	data, _ = bencode.Marshal(map[string]any{"info": map[string]any{"name": "f", "length": int64(1), "piece length": int64(16384), "pieces": hashes(1), "private": int64(1)}})
	if m, err = Parse(data); err != nil || !m.Info.Private {
		t.Fatalf("private: %v", err)
	}
}

// The info-hash is over the bytes as given: an info dict carrying an
// unknown key hashes differently from the same dict without it, and the raw
// bytes are kept exactly.
func TestInfoHashOverRawBytes(t *testing.T) {
	a := mkTorrent(t, single(1, 16384, 1))
	withExtra := single(1, 16384, 1)
	withExtra["zzz unknown"] = "kept"
	b := mkTorrent(t, withExtra)
	ma, err := Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if ma.InfoHash == mb.InfoHash || !strings.Contains(string(mb.InfoBytes), "11:zzz unknown4:kept") {
		t.Fatal("info-hash not over the raw bytes")
	}
}
