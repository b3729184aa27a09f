package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/effusion-bt/effusion/metainfo"
)

// The real effusion download, with web seeds only: no peer, no tracker,
// Go's http.FileServer on loopback.

// writeWebFiles writes files ('/'-separated paths) under root.
func writeWebFiles(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func webData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 5))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// lastJSON returns the last --json line of stdout.
func lastJSON(t *testing.T, stdout string) jsonStats {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var st jsonStats
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &st); err != nil {
		t.Fatalf("not a JSON line: %q: %v", lines[len(lines)-1], err)
	}
	return st
}

// TestDownloadBinaryWebSeedOnly: `effusion download` completes from web
// seeds alone, byte-identical: a single file from the url-list that
// `effusion create --web-seed` wrote, and 20 files in 3 directories (an
// empty one, spaces and non-ASCII) from --web-seed. The JSON lines count
// every byte as the web seeds'; the progress line shows them.
func TestDownloadBinaryWebSeedOnly(t *testing.T) {
	effusionBin(t) // built (or skipped under -short) before the subtests
	t.Run("single", func(t *testing.T) {
		www := t.TempDir()
		data := webData(1, 3<<20+99)
		writeWebFiles(t, www, map[string][]byte{"single é.bin": data})
		srv := httptest.NewServer(http.FileServer(http.Dir(www)))
		defer srv.Close()
		tpath := filepath.Join(t.TempDir(), "single.torrent")
		if _, stderr, code := runBin(t, nil, "create", filepath.Join(www, "single é.bin"), "-o", tpath,
			"--web-seed", srv.URL+"/single%20%C3%A9.bin", "--piece-length", "64k", "--no-date"); code != 0 {
			t.Fatalf("create: exit %d\n%s", code, stderr)
		}
		dir := t.TempDir()
		stdout, stderr, code := runBin(t, nil, "download", tpath, "-o", dir, "--port", "0", "--bind", "127.0.0.1",
			"--data-dir", t.TempDir(), "--json")
		if code != 0 {
			t.Fatalf("download: exit %d\n%s", code, stderr)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "single é.bin")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("downloaded file differs (%v)", err)
		}
		st := lastJSON(t, stdout)
		if st.Percent != 100 || st.WebSeedDownloaded < int64(len(data)) || st.PeerDownloaded != 0 ||
			len(st.WebSeeds) != 1 || st.WebSeeds[0].Downloaded < int64(len(data)) || st.WebSeeds[0].URL != srv.URL+"/single%20%C3%A9.bin" {
			t.Fatalf("last progress line %+v", st)
		}
	})
	t.Run("multi", func(t *testing.T) {
		www := t.TempDir()
		files := map[string][]byte{}
		dirs := []string{"one", "two three", "Ωmega ü"}
		for i := range 20 {
			size := 5000 + i*12345
			if i == 4 {
				size = 0
			}
			files[fmt.Sprintf("%s/piste %02d – é.bin", dirs[i%3], i)] = webData(uint64(10+i), size)
		}
		root := filepath.Join(www, "Album ü")
		writeWebFiles(t, root, files)
		srv := httptest.NewServer(http.FileServer(http.Dir(www)))
		defer srv.Close()
		tpath := filepath.Join(t.TempDir(), "album.torrent")
		if _, stderr, code := runBin(t, nil, "create", root, "-o", tpath, "--piece-length", "32k", "--no-date"); code != 0 {
			t.Fatalf("create: exit %d\n%s", code, stderr)
		}
		mi, err := metainfo.Load(tpath)
		if err != nil {
			t.Fatal(err)
		}
		if len(mi.Info.Files) != 20 || len(mi.URLList) != 0 {
			t.Fatalf("%d files, url-list %q", len(mi.Info.Files), mi.URLList)
		}
		dir := t.TempDir()
		_, stderr, code := runBin(t, nil, "download", tpath, "-o", dir, "--port", "0", "--bind", "127.0.0.1",
			"--data-dir", t.TempDir(), "--web-seed", srv.URL+"/")
		if code != 0 {
			t.Fatalf("download: exit %d\n%s", code, stderr)
		}
		for name, want := range files {
			if got, err := os.ReadFile(filepath.Join(dir, "Album ü", filepath.FromSlash(name))); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s differs (%v)", name, err)
			}
		}
		if !strings.Contains(stderr, "web seeds 0/1") || strings.Contains(stderr, "waiting for peers") {
			t.Fatalf("the progress line should show the web seed:\n%s", stderr)
		}
	})
}

// TestDownloadBadWebSeed: a --web-seed that is not an http(s) URL is bad
// input (exit 2), refused before any work.
func TestDownloadBadWebSeed(t *testing.T) {
	tpath, _, _, _ := transferFixture(t, 100_000)
	for _, bad := range []string{"ftp://h/x", "http://", "not a url"} {
		_, stderr, code := runBin(t, nil, "download", tpath, "-o", t.TempDir(), "--port", "0", "--no-dht", "--no-lsd", "--web-seed", bad)
		if code != 2 || !strings.Contains(stderr, "--web-seed") {
			t.Errorf("%q: exit %d\n%s", bad, code, stderr)
		}
	}
}
