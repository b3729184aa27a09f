package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effusion-bt/effusion/metainfo"
)

// runCmd runs effusion with args in-process, as main does, and returns
// stdout, stderr (with main's "effusion: " line) and the exit status.
func runCmd(ctx context.Context, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := execute(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

func formatsWriteFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCreateAndInfo(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "payload")
	formatsWriteFile(t, filepath.Join(content, "b", "x.bin"), bytes.Repeat([]byte("x"), 100000))
	formatsWriteFile(t, filepath.Join(content, "a.txt"), []byte("hello"))
	out := filepath.Join(dir, "out.torrent")
	stdout, stderr, code := runCmd(t.Context(), "create", content, "-o", out, "--piece-length", "32k",
		"--tracker", "http://127.0.0.1:1/announce,http://127.0.0.1:2/announce", "--tracker", "udp://127.0.0.1:3",
		"--private", "--web-seed", "http://127.0.0.1:4/", "--comment", "c")
	if code != 0 {
		t.Fatalf("create: %d %s", code, stderr)
	}
	m, err := metainfo.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "info-hash: "+m.InfoHashHex()+"\n") || !strings.Contains(stdout, m.Magnet().String()) {
		t.Fatalf("stdout %q", stdout)
	}
	if !m.Info.Private || m.Info.PieceLength != 32<<10 || len(m.Trackers()) != 2 || len(m.Trackers()[0]) != 2 || m.URLList[0] != "http://127.0.0.1:4/" || m.Comment != "c" {
		t.Fatalf("torrent %+v", m)
	}
	if stderr != "" {
		t.Fatalf("stderr %q (no progress bar off a terminal)", stderr)
	}

	stdout, stderr, code = runCmd(t.Context(), "info", out)
	if code != 0 {
		t.Fatalf("info: %d %s", code, stderr)
	}
	for _, want := range []string{
		"name:          payload\n", "info-hash:     " + m.InfoHashHex(), "total size:    100005 bytes", "pieces:        4 of 32768 bytes",
		"private:       yes", "comment:       c", "tier 1: http://127.0.0.1:1/announce http://127.0.0.1:2/announce", "tier 2: udp://127.0.0.1:3",
		"web seeds:\n  http://127.0.0.1:4/", "files (2):\n       5  payload/a.txt\n  100000  payload/b/x.bin\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("info output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, code = runCmd(t.Context(), "info", "--json", out)
	var j torrentJSON
	if code != 0 || json.Unmarshal([]byte(stdout), &j) != nil {
		t.Fatalf("json: %d %q", code, stdout)
	}
	if j.InfoHash != m.InfoHashHex() || j.TotalSize != 100005 || j.Pieces != 4 || !j.Private || len(j.Files) != 2 || j.Files[1].Path != "payload/b/x.bin" {
		t.Fatalf("json %+v", j)
	}

	// Default output name is NAME.torrent in the working directory; an
	// existing file is not overwritten without --force.
	t.Chdir(dir)
	if _, stderr, code = runCmd(t.Context(), "create", content, "--no-date"); code != 0 {
		t.Fatalf("default name: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "payload.torrent")); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runCmd(t.Context(), "create", content)
	if code != 2 || stderr != "effusion: payload.torrent: already exists (use --force to overwrite)\n" {
		t.Fatalf("overwrite: %d %q", code, stderr)
	}
	if _, stderr, code = runCmd(t.Context(), "create", content, "--force"); code != 0 {
		t.Fatalf("--force: %s", stderr)
	}
}

func TestCreateErrorsWriteNothing(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	formatsWriteFile(t, file, []byte("data"))
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"create", file, "--piece-length", "1000"}, "effusion: --piece-length: 1000 is not a power of two from 16 KiB to 512 MiB\n"},
		{[]string{"create", file, "--piece-length", "lots"}, "effusion: --piece-length: \"lots\": not a size\n"},
		{[]string{"create", filepath.Join(dir, "missing")}, "effusion: " + filepath.Join(dir, "missing") + ": no such file or directory\n"},
		{[]string{"create", empty}, "effusion: " + empty + ": metainfo: nothing to share (no data)\n"},
	}
	for _, tt := range tests {
		out := filepath.Join(dir, "out.torrent")
		_, stderr, code := runCmd(t.Context(), append(tt.args, "-o", out)...)
		if code != 2 || stderr != tt.want {
			t.Errorf("%q: status %d stderr %q, want 2 %q", tt.args, code, stderr, tt.want)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), "torrent") {
				t.Errorf("%q left %s behind", tt.args, e.Name())
			}
		}
	}
}

func TestInfoMalformed(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.torrent")
	formatsWriteFile(t, bad, []byte("d4:infod6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces39:"+strings.Repeat("h", 39)+"ee"))
	trav := filepath.Join(dir, "trav.torrent")
	formatsWriteFile(t, trav, []byte("d4:infod5:filesld6:lengthi1e4:pathl2:..1:xeee4:name1:d12:piece lengthi16384e6:pieces20:"+strings.Repeat("h", 20)+"ee"))
	garbage := filepath.Join(dir, "garbage.torrent")
	formatsWriteFile(t, garbage, []byte("<html>"))
	tests := []struct {
		arg, want string
	}{
		{bad, "effusion: " + bad + ": info.pieces: length 39 is not a multiple of 20\n"},
		{trav, "effusion: " + trav + ": info.files[0].path[0]: path component \"..\" is not allowed\n"},
		{garbage, "effusion: " + garbage + ": invalid bencode at offset 0: expected 'i', 'l', 'd' or a string length, found '<'\n"},
		{filepath.Join(dir, "none.torrent"), "effusion: " + filepath.Join(dir, "none.torrent") + ": no such file or directory\n"},
		{"magnet:?dn=x", "effusion: magnet: xt: no urn:btih: or urn:btmh: info-hash\n"},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{"info", tt.arg}, {"info", "--json", tt.arg}} {
			stdout, stderr, code := runCmd(t.Context(), args...)
			if code != 2 || stderr != tt.want || stdout != "" {
				t.Errorf("%q: status %d stdout %q stderr %q, want 2 and %q", args, code, stdout, stderr, tt.want)
			}
		}
	}
}

func TestInfoMagnet(t *testing.T) {
	uri := "magnet:?xt=urn:btih:2af633c618e64c9ea3972789f5764fbea6f42d40&dn=hello&tr=udp%3A%2F%2Ft%3A1&x.pe=127.0.0.1:6881&so=0,2-3"
	stdout, stderr, code := runCmd(t.Context(), "info", uri)
	if code != 0 {
		t.Fatal(stderr)
	}
	for _, want := range []string{"info-hash:     2af633c618e64c9ea3972789f5764fbea6f42d40", "name:          hello", "trackers:\n  udp://t:1", "peers:\n  127.0.0.1:6881", "select only files: 0, 2-3"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, code = runCmd(t.Context(), "info", "--json", uri)
	var j magnetJSON
	if code != 0 || json.Unmarshal([]byte(stdout), &j) != nil || !j.Magnet || j.InfoHash != "2af633c618e64c9ea3972789f5764fbea6f42d40" || len(j.SelectOnly) != 2 {
		t.Fatalf("%d %s", code, stdout)
	}
}

// TestFormatsBinaryExitStatus builds the real binary once and checks the
// process exit status and the single error line.
func TestFormatsBinaryExitStatus(t *testing.T) {
	bin := effusionBin(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.torrent")
	formatsWriteFile(t, bad, []byte("d4:infod6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces39:"+strings.Repeat("h", 39)+"ee"))
	cmd := exec.Command(bin, "info", bad)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v", err)
	}
	if stderr.String() != "effusion: "+bad+": info.pieces: length 39 is not a multiple of 20\n" || stdout.Len() != 0 {
		t.Fatalf("stderr %q stdout %q", stderr.String(), stdout.String())
	}
	payload := filepath.Join(dir, "p.bin")
	formatsWriteFile(t, payload, bytes.Repeat([]byte{1}, 50000))
	out := filepath.Join(dir, "p.torrent")
	if b, err := exec.Command(bin, "create", payload, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("create: %v %s", err, b)
	}
	if b, err := exec.Command(bin, "info", out).CombinedOutput(); err != nil || !strings.Contains(string(b), "name:          p.bin") {
		t.Fatalf("info: %v %s", err, b)
	}
}

func TestCreateWarnsAboutUnportableNames(t *testing.T) {
	dir := t.TempDir()
	content := filepath.Join(dir, "c")
	formatsWriteFile(t, filepath.Join(content, "CON"), []byte("x"))
	formatsWriteFile(t, filepath.Join(content, "ok.txt"), []byte("y"))
	formatsWriteFile(t, filepath.Join(content, "tab\there"), []byte("z"))
	_, stderr, code := runCmd(t.Context(), "create", content, "-o", filepath.Join(dir, "c.torrent"))
	if code != 0 {
		t.Fatal(stderr)
	}
	want := "effusion: warning: \"CON\" is not a portable name; downloaders will save it as \"_CON\"\n" +
		"effusion: warning: \"tab\\there\" is not a portable name; downloaders will save it as \"tab_here\"\n"
	if stderr != want {
		t.Fatalf("stderr %q, want %q", stderr, want)
	}
}
