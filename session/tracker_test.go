package session

import (
	"context"
	"testing"
	"time"

	trackerserver "github.com/effusion-bt/effusion/tracker/server"
)

// TestTrackerLifecycle: sessions find each other through a tracker and tell
// it started, completed and stopped.
func TestTrackerLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	trk, err := trackerserver.Start(ctx, trackerserver.Config{HTTPAddr: "127.0.0.1:0", Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer trk.Close()
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, _ := makeTorrent(t, seedDir, "payload.bin", 64<<10, trk.AnnounceURL(), testFile{data: randomData(8, 1<<20+5)})

	// waitStats polls the tracker (bounded) until cond holds.
	waitStats := func(what string, cond func(complete, incomplete, downloaded int) bool) {
		t.Helper()
		for ctx.Err() == nil {
			c, i, d, _ := trk.Stats(mi.InfoHash)
			if cond(c, i, d) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		c, i, d, _ := trk.Stats(mi.InfoHash)
		t.Fatalf("tracker never saw %s: complete %d, incomplete %d, downloaded %d", what, c, i, d)
	}

	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	waitStats("the seeder start", func(c, _, _ int) bool { return c == 1 })
	leecher := startSession(t, Config{Torrent: mi, Dir: dir, Seed: true}) // no Peers: the tracker's
	awaitOrFail(t, leecher, 30*time.Second)
	samePayload(t, mi, seedDir, dir)
	waitStats("the leecher complete", func(c, _, d int) bool { return c == 2 && d >= 1 })
	if err := seeder.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitStats("the seeder stop", func(c, _, _ int) bool { return c == 1 })
}
