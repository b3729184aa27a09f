package streamhttp

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
)

func quiet() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// payload is a torrent's files on disk.
type payload struct {
	mi   *metainfo.MetaInfo
	dir  string   // holds the torrent's data
	data [][]byte // each file's bytes, in the torrent's order
}

// newPayload writes files (name, bytes; random bytes when nil with the
// size given) as a multi-file torrent "p" and builds it.
func newPayload(t testing.TB, pieceLen int64, names []string, datas [][]byte) payload {
	t.Helper()
	pl := payload{dir: t.TempDir()}
	for i, name := range names {
		p := filepath.Join(pl.dir, "p", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, datas[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, _, err := metainfo.Build(context.Background(), filepath.Join(pl.dir, "p"), metainfo.BuildOptions{PieceLength: pieceLen})
	if err != nil {
		t.Fatal(err)
	}
	pl.mi = mi
	byName := map[string][]byte{}
	for i, n := range names {
		byName[n] = datas[i]
	}
	for _, f := range mi.Info.Files {
		pl.data = append(pl.data, byName[filepath.Join(f.Path[1:]...)])
	}
	return pl
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// newClient starts a client on loopback, shut down at cleanup.
func newClient(t testing.TB, cfg client.Config) *client.Client {
	t.Helper()
	cfg.DataDir, cfg.ListenAddr, cfg.Logger = t.TempDir(), "127.0.0.1:0", quiet()
	c, err := client.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

// seed starts a client seeding pl.
func seed(t testing.TB, pl payload) *client.Client {
	t.Helper()
	c := newClient(t, client.Config{})
	tt, err := c.Add(context.Background(), client.Spec{Torrent: pl.mi, Dir: pl.dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tt.Await(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}
