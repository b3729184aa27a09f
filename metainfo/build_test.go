package metainfo

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/internal/testpeer"
)

func writeRandom(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeTree creates a directory whose sort order differs between
// component-wise and whole-path comparison ("a-b/..." < "a/..." in byte
// order), with an empty file, a hidden file and nested directories.
func makeTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "content")
	writeRandom(t, filepath.Join(dir, "a", "x.bin"), 70000, 1)
	writeRandom(t, filepath.Join(dir, "a-b", "y.bin"), 33333, 2)
	writeRandom(t, filepath.Join(dir, "sub", "deep", "z.bin"), 100001, 3)
	writeRandom(t, filepath.Join(dir, ".hidden"), 5, 4)
	writeRandom(t, filepath.Join(dir, "empty"), 0, 5)
	return dir
}

func mktorrentInfo(t *testing.T, mk, path string, log2 int, extra ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "mk.torrent")
	args := append([]string{"-l", strconv.Itoa(log2), "-a", "http://127.0.0.1:6969/announce", "-o", out}, extra...)
	args = append(args, path)
	if b, err := exec.Command(mk, args...).CombinedOutput(); err != nil {
		t.Fatalf("mktorrent: %v\n%s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Info bencode.RawMessage `bencode:"info"`
	}
	if err := bencode.Unmarshal(data, &top); err != nil {
		t.Fatalf("mktorrent output: %v", err)
	}
	return top.Info
}

func TestBuildMatchesMktorrent(t *testing.T) {
	mk := testpeer.Require(t, "mktorrent")
	dir := makeTree(t)
	single := filepath.Join(t.TempDir(), "single.bin")
	writeRandom(t, single, 200000, 9)
	cases := []struct {
		name    string
		path    string
		log2    int
		private bool
	}{
		{"dir-32k", dir, 15, false},
		{"dir-64k-private", dir, 16, true},
		{"single-32k", single, 15, false},
		{"single-1m", single, 20, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var extra []string
			if c.private {
				extra = append(extra, "-p")
			}
			want := mktorrentInfo(t, mk, c.path, c.log2, extra...)
			m, data, err := Build(context.Background(), c.path, BuildOptions{
				PieceLength: 1 << c.log2,
				Trackers:    [][]string{{"http://127.0.0.1:6969/announce"}},
				Private:     c.private,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.InfoBytes, want) {
				t.Fatalf("info dict differs from mktorrent's:\n ours %q\n mk   %q", trim(m.InfoBytes), trim(want))
			}
			if m.InfoHash != sha1.Sum(want) {
				t.Fatal("info-hash differs")
			}
			if m2, err := Parse(data); err != nil || m2.InfoHash != m.InfoHash {
				t.Fatalf("re-parse: %v", err)
			}
		})
	}
}

func trim(b []byte) []byte {
	if len(b) > 400 {
		return b[:400]
	}
	return b
}

func TestBuildLayoutAndFields(t *testing.T) {
	dir := makeTree(t)
	var calls []int64
	date := time.Unix(1700000000, 0)
	m, data, err := Build(context.Background(), dir, BuildOptions{
		PieceLength:  32 << 10,
		Trackers:     [][]string{{"http://a/announce", "http://b/announce"}, {"udp://c:80"}},
		WebSeeds:     []string{"http://w/1", "http://w/2"},
		Comment:      "hi",
		CreationDate: date,
		Workers:      2,
		Progress:     func(done, total int64) { calls = append(calls, done) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Info.Files {
		paths = append(paths, filepath.Join(f.Path...))
	}
	want := []string{"content/.hidden", "content/a-b/y.bin", "content/a/x.bin", "content/empty", "content/sub/deep/z.bin"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("files %q, want %q", paths, want)
	}
	total := int64(5 + 33333 + 70000 + 100001)
	if m.Info.TotalLength() != total || m.Info.NumPieces() != int((total+32767)/32768) {
		t.Fatalf("total %d pieces %d", m.Info.TotalLength(), m.Info.NumPieces())
	}
	if len(calls) != m.Info.NumPieces() || calls[len(calls)-1] != total {
		t.Fatalf("progress calls %v", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] <= calls[i-1] {
			t.Fatalf("progress not increasing: %v", calls)
		}
	}
	if !reflect.DeepEqual(m.Trackers(), [][]string{{"http://a/announce", "http://b/announce"}, {"udp://c:80"}}) || m.Announce != "http://a/announce" {
		t.Fatalf("trackers %q announce %q", m.Trackers(), m.Announce)
	}
	if !reflect.DeepEqual(m.URLList, []string{"http://w/1", "http://w/2"}) || m.Comment != "hi" || m.CreatedBy != "effusion" || m.CreationDate != date.Unix() {
		t.Fatalf("fields %+v", m)
	}
	// Hashes are right: recompute piece 0 by hand over the concatenation.
	var all []byte
	for _, p := range want {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), p))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for i := range m.Info.NumPieces() {
		start := int64(i) * m.Info.PieceLength
		if sha1.Sum(all[start:start+m.Info.PieceLen(i)]) != m.Info.PieceHash(i) {
			t.Fatalf("piece %d hash wrong", i)
		}
	}
	if !bytes.Contains(data, []byte("8:url-listl10:http://w/110:http://w/2e")) {
		t.Fatal("url-list not a list")
	}
	// One web seed is written as a string (mktorrent's form), and one
	// tracker gives no announce-list.
	_, data, err = Build(context.Background(), dir, BuildOptions{Trackers: [][]string{{"http://a/announce"}}, WebSeeds: []string{"http://w/1"}, NoDate: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("8:url-list10:http://w/1")) || bytes.Contains(data, []byte("announce-list")) || bytes.Contains(data, []byte("creation date")) {
		t.Fatalf("got %q", trim(data))
	}
}

func TestChoosePieceLength(t *testing.T) {
	tests := []struct{ total, want int64 }{
		{1, 16 << 10},
		{2000 * 16 << 10, 16 << 10},
		{2000*16<<10 + 1, 32 << 10},
		{1 << 30, 1 << 20},     // 1 GiB: 1024 pieces of 1 MiB
		{4 << 30, 4 << 20},     // 4 GiB: 1024 pieces of 4 MiB
		{100 << 40, 16 << 20},  // capped at 16 MiB
		{700 << 20, 512 << 10}, // 700 MiB: 1400 pieces
	}
	for _, tt := range tests {
		if got := ChoosePieceLength(tt.total); got != tt.want {
			t.Errorf("ChoosePieceLength(%d) = %d, want %d", tt.total, got, tt.want)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	if _, _, err := Build(ctx, empty, BuildOptions{}); !errors.Is(err, ErrNoData) {
		t.Errorf("empty dir: %v", err)
	}
	writeRandom(t, filepath.Join(empty, "zero"), 0, 1)
	if _, _, err := Build(ctx, empty, BuildOptions{}); !errors.Is(err, ErrNoData) {
		t.Errorf("only empty files: %v", err)
	}
	if _, _, err := Build(ctx, filepath.Join(empty, "missing"), BuildOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	f := filepath.Join(t.TempDir(), "f")
	writeRandom(t, f, 1000, 1)
	for _, pl := range []int64{1000, 8 << 10, 1 << 30, -1} {
		if _, _, err := Build(ctx, f, BuildOptions{PieceLength: pl}); err == nil {
			t.Errorf("piece length %d accepted", pl)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := Build(cctx, f, BuildOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestBuildFollowsFileSymlinksSkipsDirLinks(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "d")
	writeRandom(t, filepath.Join(dir, "real"), 100, 1)
	writeRandom(t, filepath.Join(root, "outside"), 50, 2)
	if err := os.Symlink(filepath.Join(root, "outside"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(root, filepath.Join(dir, "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	m, _, err := Build(context.Background(), dir, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Info.Files) != 2 || m.Info.Files[0].Path[1] != "link" || m.Info.Files[0].Length != 50 || m.Info.Files[1].Path[1] != "real" {
		t.Fatalf("files %+v", m.Info.Files)
	}
}

// A file that is shorter than listed (it shrank after the walk) fails the
// build with a clear error, and every worker stops.
func TestHashPiecesShrunkFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	writeRandom(t, a, 100000, 1)
	files := []srcFile{{abs: a, comps: []string{"a"}, rel: "a", length: 200000}}
	_, err := hashPieces(context.Background(), files, 200000, 16<<10, BuildOptions{Workers: 3})
	if err == nil || !strings.Contains(err.Error(), "shrank while being hashed") {
		t.Fatalf("got %v", err)
	}
	files[0].abs = filepath.Join(dir, "gone")
	if _, err := hashPieces(context.Background(), files, 200000, 16<<10, BuildOptions{Workers: 3}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

// Many workers over many small pieces and files crossing piece boundaries
// give the same hashes as one worker.
func TestBuildWorkersAgree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	for i := range 40 {
		writeRandom(t, filepath.Join(dir, strconv.Itoa(i)), 1000+i*1777, uint64(i))
	}
	one, _, err := Build(context.Background(), dir, BuildOptions{PieceLength: 16 << 10, Workers: 1, NoDate: true})
	if err != nil {
		t.Fatal(err)
	}
	many, _, err := Build(context.Background(), dir, BuildOptions{PieceLength: 16 << 10, Workers: 8, NoDate: true})
	if err != nil {
		t.Fatal(err)
	}
	if one.InfoHash != many.InfoHash || len(one.Info.Pieces) < 50 {
		t.Fatalf("1 worker %x, 8 workers %x (%d pieces)", one.InfoHash, many.InfoHash, len(one.Info.Pieces))
	}
}

// libtorrent (an independent implementation) reads a torrent made by Build
// and computes the same info-hash, name, size and piece count.
func TestBuildReadByLibtorrent(t *testing.T) {
	py := testpeer.Python(t)
	dir := makeTree(t)
	m, data, err := Build(context.Background(), dir, BuildOptions{PieceLength: 16 << 10, Trackers: [][]string{{"http://127.0.0.1:1/announce"}}, Private: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.torrent")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `import sys, libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
print(str(ti.info_hashes().v1), ti.name(), ti.total_size(), ti.num_pieces(), ti.num_files(), int(ti.priv()))`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("libtorrent: %v\n%s", err, out)
	}
	want := fmt.Sprintf("%s content %d %d %d 1\n", m.InfoHashHex(), m.Info.TotalLength(), m.Info.NumPieces(), len(m.Info.Files))
	if string(out) != want {
		t.Fatalf("libtorrent says %q, we say %q", out, want)
	}
}

// Transmission's transmission-show (a third implementation) reads a torrent
// made by Build with the same info-hash, privacy and piece count.
func TestBuildReadByTransmission(t *testing.T) {
	show := testpeer.Require(t, "transmission-show")
	single := filepath.Join(t.TempDir(), "one.bin")
	writeRandom(t, single, 150000, 7)
	m, data, err := Build(context.Background(), single, BuildOptions{PieceLength: 32 << 10, Private: true, Trackers: [][]string{{"http://127.0.0.1:1/announce"}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "one.torrent")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(show, path).CombinedOutput()
	if err != nil {
		t.Fatalf("transmission-show: %v\n%s", err, out)
	}
	for _, want := range []string{"Hash: " + m.InfoHashHex(), "Piece Count: 5", "Private torrent"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("transmission-show output lacks %q:\n%s", want, out)
		}
	}
}
