package webseed

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
)

// Interoperability: torrents made by `effusion create --web-seed URL`,
// served by Go's http.FileServer on loopback, downloaded by aria2 and by
// libtorrent with no peer at all, and by this package; and a torrent made
// by libtorrent (with pad files) fetched by this package. Equal bytes
// everywhere prove that the URL layout is the one the other clients use.

var (
	buildOnce sync.Once
	buildDir  string
	builtBin  string
	buildErr  error
)

// effusionBin builds cmd/effusion once per test binary.
func effusionBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the effusion binary")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "webseed-bin"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "effusion")
		var out []byte
		if out, buildErr = exec.Command("go", "build", "-o", builtBin, "../cmd/effusion").CombinedOutput(); buildErr != nil {
			buildErr = &buildError{err: buildErr, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

func removeBuilt() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// createWithCLI runs `effusion create PATH --web-seed URL` and loads the
// result.
func createWithCLI(t *testing.T, path, url string) (*metainfo.MetaInfo, string) {
	t.Helper()
	tpath := filepath.Join(t.TempDir(), "ws.torrent")
	cmd := exec.Command(effusionBin(t), "create", path, "-o", tpath, "--web-seed", url, "--piece-length", "32k", "--no-date")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("effusion create: %v\n%s", err, out)
	}
	mi, err := metainfo.Load(tpath)
	if err != nil {
		t.Fatal(err)
	}
	if len(mi.URLList) != 1 || mi.URLList[0] != url {
		t.Fatalf("url-list %q, want [%q]", mi.URLList, url)
	}
	return mi, tpath
}

// sameTree fails unless every non-padding file of mi under got equals the
// one under want.
func sameTree(t *testing.T, mi *metainfo.MetaInfo, want, got string) {
	t.Helper()
	for _, f := range mi.Info.Files {
		if f.Padding {
			continue
		}
		rel := filepath.Join(f.Path...)
		a, err := os.ReadFile(filepath.Join(want, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(got, rel))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs (%d bytes, want %d)", rel, len(b), len(a))
		}
	}
}

// downloadAll runs aria2 and libtorrent on the torrent (web seed only) and
// this package's Seed, and checks what each got.
func downloadAll(t *testing.T, mi *metainfo.MetaInfo, tpath, www string, stream []byte) {
	t.Run("effusion", func(t *testing.T) {
		s := newSeed(t, &mi.Info, mi.URLList[0], Config{})
		fetchEvery(t, s, mi, stream)
	})
	t.Run("aria2", func(t *testing.T) {
		bin := testpeer.Require(t, "aria2c")
		dir := t.TempDir()
		args := append(testpeer.Aria2Args(testpeer.FreePort(t)), "--seed-time=0", "--dir="+dir, tpath)
		p := testpeer.Start(t, dir, bin, args...)
		p.Wait(t, 90*time.Second)
		sameTree(t, mi, www, dir)
	})
	t.Run("libtorrent", func(t *testing.T) {
		python := testpeer.Python(t)
		script, err := filepath.Abs("testdata/lt_webseed.py")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		p := testpeer.Start(t, dir, python, script, "leech", tpath, dir, "--max-seconds", "80")
		p.WaitLine(t, "COMPLETE", 90*time.Second)
		p.Wait(t, 10*time.Second)
		sameTree(t, mi, www, dir)
	})
}

func TestInteropCreatedSingleFile(t *testing.T) {
	www := t.TempDir()
	_, stream := makeTorrent(t, www, "payload file.bin", 32<<10, tfile{data: randomData(21, 3<<20+17)})
	srv, _ := serve(t, http.FileServer(http.Dir(www)))
	mi, tpath := createWithCLI(t, filepath.Join(www, "payload file.bin"), srv.URL+"/payload%20file.bin")
	downloadAll(t, mi, tpath, www, stream)
}

func TestInteropCreatedMultiFile(t *testing.T) {
	www := t.TempDir()
	_, _ = makeTorrent(t, www, "Ålbum 2", 32<<10, multiFiles()...)
	srv, _ := serve(t, http.FileServer(http.Dir(www)))
	mi, tpath := createWithCLI(t, filepath.Join(www, "Ålbum 2"), srv.URL+"/")
	// create orders files by path bytes: rebuild the stream in its order.
	var stream []byte
	for _, f := range mi.Info.Files {
		b, err := os.ReadFile(filepath.Join(append([]string{www}, f.Path...)...))
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	if len(mi.Info.Files) != 20 {
		t.Fatalf("%d files", len(mi.Info.Files))
	}
	downloadAll(t, mi, tpath, www, stream)
}

// TestInteropLibtorrentMade: a multi-file torrent that libtorrent made,
// with pad files and its web seed URL, fetched piece by piece.
func TestInteropLibtorrentMade(t *testing.T) {
	python := testpeer.Python(t)
	www := t.TempDir()
	_, _ = makeTorrent(t, www, "lt album", 32<<10, multiFiles()...)
	srv, rec := serve(t, http.FileServer(http.Dir(www)))
	tpath := filepath.Join(t.TempDir(), "lt.torrent")
	out, err := exec.Command(python, "testdata/lt_webseed.py", "create", filepath.Join(www, "lt album"), tpath, "32768", srv.URL+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("libtorrent create: %v\n%s", err, out)
	}
	mi, err := metainfo.Load(tpath)
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	pads := 0
	for _, f := range mi.Info.Files {
		if f.Padding {
			pads++
			stream = append(stream, make([]byte, f.Length)...)
			continue
		}
		b, err := os.ReadFile(filepath.Join(append([]string{www}, f.Path...)...))
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	if pads == 0 {
		t.Fatal("libtorrent made no pad files; the test would prove less")
	}
	s := newSeed(t, &mi.Info, mi.URLList[0], Config{})
	fetchEvery(t, s, mi, stream)
	bufs := blocksFor(mi.Info.Length)
	if _, err := s.Fetch(context.Background(), 0, bufs, nil); err != nil || !bytes.Equal(bytes.Join(bufs, nil), stream) {
		t.Fatalf("whole torrent: %v", err)
	}
	paths, _, _ := rec.snapshot()
	for _, p := range paths {
		if strings.Contains(p, ".pad") {
			t.Fatalf("a pad file was requested: %s", p)
		}
	}
}
