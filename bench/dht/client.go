package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
)

// clientLookups measures the DHT through the whole client: a seeding
// client announces a 1 MiB torrent on the loopback DHT; then, n times, a
// fresh client adds the torrent with no tracker and no peers and the
// times from Add to its announcer's first peer, to its first connected
// peer and to the verified download are taken.
func clientLookups(boot []string, n int) error {
	dir, err := os.MkdirTemp("", "effusion-bench-dht-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	payload := filepath.Join(dir, "seed", "payload.bin")
	os.MkdirAll(filepath.Dir(payload), 0o755)
	b := make([]byte, 1<<20)
	rand.Read(b)
	if err := os.WriteFile(payload, b, 0o644); err != nil {
		return err
	}
	ctx := context.Background()
	mi, _, err := metainfo.Build(ctx, payload, metainfo.BuildOptions{PieceLength: 64 << 10})
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	newClient := func(name string) (*client.Client, error) {
		return client.New(ctx, client.Config{DataDir: filepath.Join(dir, name), ListenAddr: "127.0.0.1:0",
			DHTBootstrap: boot, NoLSD: true, Logger: quiet})
	}
	seeder, err := newClient("seeder")
	if err != nil {
		return err
	}
	defer seeder.Shutdown(ctx)
	st, err := seeder.Add(ctx, client.Spec{Torrent: mi, Dir: filepath.Dir(payload)})
	if err != nil {
		return err
	}
	if err := st.Await(ctx); err != nil {
		return err
	}
	for { // the seeder's first announce has landed
		if s, ok := st.DHTStatus(); ok && s.Searches > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var found, connected, done []time.Duration
	for i := range n {
		c, err := newClient(fmt.Sprintf("leecher-%d", i))
		if err != nil {
			return err
		}
		t0 := time.Now()
		tt, err := c.Add(ctx, client.Spec{Torrent: mi, Dir: filepath.Join(dir, fmt.Sprintf("dl-%d", i))})
		if err != nil {
			c.Shutdown(ctx)
			return err
		}
		var f, p time.Duration
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		awaited := make(chan error, 1)
		go func() { awaited <- tt.Await(wctx) }()
	poll:
		for {
			select {
			case err = <-awaited:
				break poll
			case <-time.After(time.Millisecond):
			}
			if s, ok := tt.DHTStatus(); ok && s.TotalPeers > 0 && f == 0 {
				f = time.Since(t0)
			}
			if tt.Stats().Peers > 0 && p == 0 {
				p = time.Since(t0)
			}
		}
		d := time.Since(t0)
		cancel()
		c.Shutdown(ctx)
		if err != nil {
			return fmt.Errorf("client lookup %d: %w", i, err)
		}
		if f == 0 {
			f = p // found and connected within the same millisecond
		}
		if p == 0 {
			p = d
		}
		found, connected, done = append(found, f), append(connected, p), append(done, d)
	}
	fmt.Printf("effusion client (Add, no tracker, no peers): first DHT peer after median %v (max %v), first connected peer median %v (max %v), 1 MiB verified median %v (max %v), over %d fresh clients\n",
		medianD(found), slices.Max(found), medianD(connected), slices.Max(connected), medianD(done), slices.Max(done), n)
	return nil
}
