package session_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
)

// A seeder and a leecher on loopback, with no tracker: the leecher is given
// the seeder's address.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Some data and its torrent.
	seedDir, _ := os.MkdirTemp("", "seed")
	leechDir, _ := os.MkdirTemp("", "leech")
	defer os.RemoveAll(seedDir)
	defer os.RemoveAll(leechDir)
	data := bytes.Repeat([]byte("effusion "), 200_000)
	os.WriteFile(filepath.Join(seedDir, "hello.txt"), data, 0o644)
	mi, _, err := metainfo.Build(ctx, filepath.Join(seedDir, "hello.txt"), metainfo.BuildOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}

	seeder, err := session.Start(ctx, session.Config{Torrent: mi, Dir: seedDir, ListenAddr: "127.0.0.1:0", Seed: true, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer seeder.Stop(ctx)

	leecher, err := session.Start(ctx, session.Config{
		Torrent: mi, Dir: leechDir, ListenAddr: "127.0.0.1:0", Logger: quiet,
		Peers: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), seeder.Addr().Port())},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer leecher.Stop(ctx)
	if err := leecher.Await(ctx); err != nil {
		fmt.Println(err)
		return
	}
	got, _ := os.ReadFile(filepath.Join(leechDir, "hello.txt"))
	st := leecher.Stats()
	fmt.Println("complete:", bytes.Equal(got, data), st.PiecesHave == st.PiecesTotal)
	// Output: complete: true true
}
