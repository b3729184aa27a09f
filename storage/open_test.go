package storage

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
)

// writeTree creates files (relative path → size) of random bytes under dir.
func writeTree(t *testing.T, dir string, files map[string]int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for rel, n := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyTorrent verifies src's data with Check, then "downloads" it into a
// fresh directory piece by piece, and checks the copy.
func copyTorrent(t *testing.T, info *metainfo.Info, srcDir string) string {
	t.Helper()
	src, err := Open(srcDir, info, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	have, err := src.Check(context.Background(), nil)
	if err != nil || !have.Complete() {
		t.Fatalf("Check of the original data: %d/%d pieces, %v", have.Count(), have.Len(), err)
	}
	dstDir := t.TempDir()
	dst, err := Open(dstDir, info, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for i := range src.NumPieces() {
		buf := make([]byte, src.PieceLen(i))
		if err := src.ReadPiece(i, buf); err != nil {
			t.Fatal(err)
		}
		if !VerifyPiece(buf, info.PieceHash(i)) {
			t.Fatalf("piece %d read back does not verify", i)
		}
		if err := dst.WritePiece(i, buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.Sync(); err != nil {
		t.Fatal(err)
	}
	return dstDir
}

func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	ta, tb := tree(t, a), tree(t, b)
	if len(ta) != len(tb) {
		t.Fatalf("trees differ:\n%v\n%v", ta, tb)
	}
	for rel := range ta {
		x, _ := os.ReadFile(filepath.Join(a, rel))
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Fatalf("%s differs (%v)", rel, err)
		}
	}
}

// The torrent formats' own creator and storage agree on the layout.
func TestOpenBuiltTorrent(t *testing.T) {
	root := t.TempDir()
	writeTree(t, filepath.Join(root, "content"), map[string]int{
		"a.bin": 40000, "sub/b.bin": 70000, "sub/deep/c.bin": 5, "z.bin": 33000,
	})
	if err := os.WriteFile(filepath.Join(root, "content", "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, _, err := metainfo.Build(context.Background(), filepath.Join(root, "content"), metainfo.BuildOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	dst := copyTorrent(t, &mi.Info, root)
	sameFiles(t, root, dst)
}

// libtorrent's canonical v1 layout has BEP 47 padding files: they must
// never reach the disk, and every piece must still verify.
func TestOpenLibtorrentPaddedTorrent(t *testing.T) {
	python := testpeer.Python(t)
	root := t.TempDir()
	writeTree(t, filepath.Join(root, "content"), map[string]int{
		"a.bin": 40000, "b.bin": 70001, "d/c.bin": 12345, "e.bin": 1,
	})
	tf := filepath.Join(t.TempDir(), "x.torrent")
	out, err := exec.Command(python, "testdata/lt_make_torrent.py", filepath.Join(root, "content"), tf, "32768").CombinedOutput()
	if err != nil {
		t.Fatalf("libtorrent: %v\n%s", err, out)
	}
	mi, err := metainfo.Load(tf)
	if err != nil {
		t.Fatal(err)
	}
	pads := 0
	for _, f := range mi.Info.Files {
		if f.Padding {
			pads++
		}
	}
	if pads == 0 {
		t.Fatal("libtorrent made no padding files: the test would prove nothing")
	}
	dst := copyTorrent(t, &mi.Info, root)
	sameFiles(t, root, dst) // no .pad files on disk
}

func TestOpenRefusesEscapingSymlink(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	writeTree(t, filepath.Join(root, "content"), map[string]int{"sub/a.bin": 100})
	mi, _, err := metainfo.Build(context.Background(), filepath.Join(root, "content"), metainfo.BuildOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	dl := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dl, "content"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dl, "content", "sub")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dl, &mi.Info, Options{}); !errors.Is(err, metainfo.ErrUnsafePath) {
		t.Fatalf("Open through an escaping symlink: %v, want ErrUnsafePath", err)
	}
}
