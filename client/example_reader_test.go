package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/effusion-bt/effusion/client"
)

// ExampleTorrent_NewReader reads a file while it downloads, as a video
// player would: each read waits until its bytes are verified, and the
// pieces around the position are fetched first.
func ExampleTorrent_NewReader() {
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
	t.AddPeers(seeder.Addr())

	r, err := t.NewReader(0)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	r.Seek(200_000, io.SeekStart) // a seek moves the window at the next read
	buf := make([]byte, 4)
	if _, err := io.ReadFull(r, buf); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", buf) // the file holds byte(i*7) at offset i
	// Output: c0 c7 ce d5
}
