package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
	"github.com/effusion-bt/effusion/webseed"
)

// webPayload writes files (paths relative to root, '/'-separated) under
// www/root and serves www with http.FileServer on loopback; it returns the
// server. No peer, no tracker: the tests download from web seeds alone.
func webPayload(t *testing.T, www, root string, files map[string][]byte) *httptest.Server {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(www, root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(www)))
	t.Cleanup(srv.Close)
	return srv
}

func pseudoRandom(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// manyWebFiles is 20 files in 3 directories, one empty, names with spaces
// and non-ASCII letters.
func manyWebFiles() map[string][]byte {
	dirs := []string{"one", "two three", "Ωmega ü"}
	files := map[string][]byte{}
	for i := range 20 {
		size := 7000 + i*11113
		if i == 9 {
			size = 0
		}
		files[fmt.Sprintf("%s/track %02d – é.bin", dirs[i%3], i)] = pseudoRandom(uint64(i), size)
	}
	return files
}

// sameWebFiles fails unless dir/root holds files.
func sameWebFiles(t *testing.T, dir, root string, files map[string][]byte) {
	t.Helper()
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, root, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs (%v)", name, err)
		}
	}
}

// TestWebSeedOnly: torrents with web seeds only, no peer and no tracker,
// download byte-identical through the client: a single file from the
// torrent's url-list (a URL ending in '/', the name appended), and 20
// files in 3 directories from Spec.WebSeeds (the torrent has no url-list).
func TestWebSeedOnly(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		www := t.TempDir()
		data := pseudoRandom(99, 2<<20+555)
		srv := webPayload(t, www, "", map[string][]byte{"single file é.bin": data})
		mi, _, err := metainfo.Build(context.Background(), filepath.Join(www, "single file é.bin"),
			metainfo.BuildOptions{PieceLength: 64 << 10, WebSeeds: []string{srv.URL + "/"}})
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, t.TempDir())
		dl := t.TempDir()
		tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: dl})
		if err != nil {
			t.Fatal(err)
		}
		await(t, tt)
		if got, err := os.ReadFile(filepath.Join(dl, "single file é.bin")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("downloaded file differs (%v)", err)
		}
		checkWebStats(t, tt.Stats(), mi.Info.TotalLength())
	})
	t.Run("multi", func(t *testing.T) {
		www := t.TempDir()
		files := manyWebFiles()
		srv := webPayload(t, www, "Album ü", files)
		mi, _, err := metainfo.Build(context.Background(), filepath.Join(www, "Album ü"), metainfo.BuildOptions{PieceLength: 32 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(mi.Info.Files) != 20 {
			t.Fatalf("%d files in the torrent", len(mi.Info.Files))
		}
		c := newClient(t, t.TempDir())
		dl := t.TempDir()
		if _, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: dl, WebSeeds: []string{"ftp://h/x"}}); !errors.Is(err, webseed.ErrBadURL) {
			t.Fatalf("a bad web seed: %v", err)
		}
		tt, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: dl, WebSeeds: []string{srv.URL + "/"}})
		if err != nil {
			t.Fatal(err)
		}
		await(t, tt)
		sameWebFiles(t, dl, "Album ü", files)
		checkWebStats(t, tt.Stats(), mi.Info.TotalLength())
	})
}

func checkWebStats(t *testing.T, st Stats, total int64) {
	t.Helper()
	if st.WebSeedDownloaded < total || st.Downloaded < st.WebSeedDownloaded || st.Peers != 0 {
		t.Fatalf("downloaded %d, from web seeds %d, of %d; %d peers", st.Downloaded, st.WebSeedDownloaded, total, st.Peers)
	}
	if len(st.WebSeeds) != 1 || st.WebSeeds[0].Downloaded < total || st.WebSeeds[0].State == session.WebSeedDropped {
		t.Fatalf("web seeds %+v", st.WebSeeds)
	}
}

// TestWebSeedsRemembered: the web seeds of Spec come back with the torrent
// after a restart, and AddWebSeeds gives a running torrent a source; the
// bytes from web seeds add up across sessions.
func TestWebSeedsRemembered(t *testing.T) {
	www := t.TempDir()
	files := map[string][]byte{"a.bin": pseudoRandom(1, 700_001), "b/c.bin": pseudoRandom(2, 300_000)}
	srv := webPayload(t, www, "kept", files)
	mi, _, err := metainfo.Build(context.Background(), filepath.Join(www, "kept"), metainfo.BuildOptions{PieceLength: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	data, dl := t.TempDir(), t.TempDir()
	c := newClient(t, data)
	if _, err := c.Add(context.Background(), Spec{Torrent: mi, Dir: dl, Paused: true, WebSeeds: []string{srv.URL + "/"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := newClient(t, data)
	tt, ok := c2.Torrent(mi.InfoHash)
	if !ok {
		t.Fatal("the torrent did not come back")
	}
	if err := tt.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	sameWebFiles(t, dl, "kept", files)
	total := mi.Info.TotalLength()
	if st := tt.Stats(); st.WebSeedDownloaded < total {
		t.Fatalf("from web seeds %d of %d", st.WebSeedDownloaded, total)
	}

	// A second torrent without sources, given one while it runs.
	www2 := t.TempDir()
	files2 := map[string][]byte{"x.bin": pseudoRandom(3, 500_000)}
	srv2 := webPayload(t, www2, "late", files2)
	mi2, _, err := metainfo.Build(context.Background(), filepath.Join(www2, "late"), metainfo.BuildOptions{PieceLength: 32 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c2.Add(context.Background(), Spec{Torrent: mi2, Dir: dl})
	if err != nil {
		t.Fatal(err)
	}
	if err := t2.AddWebSeeds("gopher://h/"); !errors.Is(err, webseed.ErrBadURL) {
		t.Fatalf("a bad web seed: %v", err)
	}
	if err := t2.AddWebSeeds(srv2.URL + "/"); err != nil {
		t.Fatal(err)
	}
	await(t, t2)
	sameWebFiles(t, dl, "late", files2)
}
