package client_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
)

// Example downloads a torrent: from a seeder in the same program here, so
// that it runs anywhere; a real program takes peers from the trackers.
func Example() {
	ctx := context.Background()
	mi, seedDir, cleanup := exampleTorrent() // a .torrent and its data
	defer cleanup()

	seeder, _ := client.New(ctx, client.Config{DataDir: filepath.Join(seedDir, "state"), ListenAddr: "127.0.0.1:0"})
	defer seeder.Shutdown(ctx)
	seeder.Add(ctx, client.Spec{Torrent: mi, Dir: seedDir})

	dir, _ := os.MkdirTemp("", "downloads")
	defer os.RemoveAll(dir)
	c, err := client.New(ctx, client.Config{DataDir: filepath.Join(dir, "state"), ListenAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(ctx)
	t, err := c.Add(ctx, client.Spec{Torrent: mi, Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	t.AddPeers(seeder.Addr()) // what a tracker would do
	if err := t.Await(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Name(), "downloaded:", t.Stats().State)
	// Output: hello.txt downloaded: seeding
}

// exampleTorrent makes a small file and its torrent.
func exampleTorrent() (*metainfo.MetaInfo, string, func()) {
	dir, err := os.MkdirTemp("", "seed")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "hello.txt")
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
	mi, _, err := metainfo.Build(context.Background(), path, metainfo.BuildOptions{})
	if err != nil {
		log.Fatal(err)
	}
	return mi, dir, func() { os.RemoveAll(dir) }
}
