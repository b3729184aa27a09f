package metainfo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSanitizeComponent(t *testing.T) {
	tests := []struct {
		in, out string
		ok      bool
		err     bool
	}{
		{"..", "", false, true},
		{".", "", false, false},
		{"", "", false, false},
		{"normal.txt", "normal.txt", true, false},
		{".hidden", ".hidden", true, false},
		{"/etc", "_etc", true, false},
		{"a\\b", "a_b", true, false},
		{"nul\x00byte", "nul_byte", true, false},
		{"d:", "d_", true, false},
		{"D:evil", "D_evil", true, false},
		{"ab:c", "ab:c", true, false},
		{"aux", "_aux", true, false},
		{"Com9.log", "_Com9.log", true, false},
		{"com10", "com10", true, false},
		{"console", "console", true, false},
		{"x. ", "x", true, false},
		{"..a", "..a", true, false},
		{". .", "_", true, false},
		{"\u202egpj.exe", "gpj.exe", true, false},
		{"\ufeffbom", "bom", true, false},
		{"\xc3\x28", "_(", true, false},
		{"日本語", "日本語", true, false},
		{"c1\u0085", "c1_", true, false},
	}
	for _, tt := range tests {
		out, ok, err := SanitizeComponent(tt.in)
		if out != tt.out || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("SanitizeComponent(%q) = %q, %v, %v; want %q, %v, err=%v", tt.in, out, ok, err, tt.out, tt.ok, tt.err)
		}
	}
	// Long names are cut at a rune boundary, keeping the extension.
	long := strings.Repeat("é", 200) + ".flac"
	out, _, _ := SanitizeComponent(long)
	if len(out) > 255 || !strings.HasSuffix(out, ".flac") || !strings.HasPrefix(out, "éé") || strings.ContainsRune(out, '\ufffd') {
		t.Errorf("shortened to %q (%d bytes)", out, len(out))
	}
}

func TestSafeJoin(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "in", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// in/up -> outside (escape); in/side -> in/sub (fine); in/dangling -> nowhere.
	mustSymlink(t, outside, filepath.Join(root, "in", "up"))
	mustSymlink(t, filepath.Join(root, "in", "sub"), filepath.Join(root, "in", "side"))
	mustSymlink(t, filepath.Join(outside, "nope"), filepath.Join(root, "in", "dangling"))
	mustSymlink(t, "../..", filepath.Join(root, "in", "rel"))
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, filepath.Join(outside, "secret"), filepath.Join(root, "in", "file-link"))

	good := []struct {
		comps []string
		want  string
	}{
		{[]string{"a.txt"}, filepath.Join(root, "a.txt")},
		{[]string{"in", "sub", "new", "file"}, filepath.Join(root, "in", "sub", "new", "file")},
		{[]string{"in", "side", "x"}, filepath.Join(root, "in", "side", "x")},
		{[]string{"not", "yet", "there"}, filepath.Join(root, "not", "yet", "there")},
	}
	for _, g := range good {
		got, err := SafeJoin(root, g.comps)
		if err != nil || got != g.want {
			t.Errorf("SafeJoin(%q) = %q, %v; want %q", g.comps, got, err, g.want)
		}
	}
	bad := [][]string{
		{".."}, {"a", "..", "b"}, {"."}, {""}, {"a/b"}, {`a\b`}, {"a\x00"}, {},
		{"in", "up", "x"},
		{"in", "up"},
		{"in", "dangling"},
		{"in", "rel", "etc"},
		{"in", "file-link"},
	}
	for _, b := range bad {
		if got, err := SafeJoin(root, b); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("SafeJoin(%q) = %q, %v; want ErrUnsafePath", b, got, err)
		}
	}
	// A root that is itself a symlink is resolved before comparing.
	linkRoot := filepath.Join(t.TempDir(), "root-link")
	mustSymlink(t, root, linkRoot)
	if got, err := SafeJoin(linkRoot, []string{"in", "side", "y"}); err != nil || got != filepath.Join(linkRoot, "in", "side", "y") {
		t.Errorf("through a linked root: %q %v", got, err)
	}
	if _, err := SafeJoin(linkRoot, []string{"in", "up", "y"}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("escape through a linked root: %v", err)
	}
	if _, err := SafeJoin("", []string{"a"}); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("empty root: %v", err)
	}
	// A root that does not exist yet is fine.
	if got, err := SafeJoin(filepath.Join(root, "fresh"), []string{"a"}); err != nil || got != filepath.Join(root, "fresh", "a") {
		t.Errorf("fresh root: %q %v", got, err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// Every path Parse produces is accepted by SafeJoin: sanitising and the
// final check agree.
func TestParsedPathsAreSafe(t *testing.T) {
	m, err := Parse(mkTorrent(t, map[string]any{
		"name":         "..x",
		"files":        []any{file(1, "a:b", "c\\d", "CON", "e. "), file(1, "\u202e", "f")},
		"piece length": int64(16384), "pieces": hashes(1),
	}))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, f := range m.Info.Files {
		p, err := SafeJoin(root, f.Path)
		if err != nil || !strings.HasPrefix(p, root+string(filepath.Separator)) {
			t.Fatalf("%q: %q %v", f.Path, p, err)
		}
	}
}
