package session

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// TestProcessesAndCounters: during a download, each side lists its session
// machine and the peer's connection process, with a log to show; after it
// the leecher counted every piece verified, and the environment timed
// their hashing and writing.
func TestProcessesAndCounters(t *testing.T) {
	seedDir := t.TempDir()
	mi, _ := makeTorrent(t, seedDir, "p.bin", 64<<10, "", testFile{data: randomData(5, 1<<20+100)})
	// Slow enough to look at the processes half-way.
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true, UploadRate: 512 << 10})
	awaitOrFail(t, seeder, 10*time.Second)
	env := testEnv(t)
	leecher := startSession(t, Config{Torrent: mi, Dir: t.TempDir(), Seed: true, Env: env, Peers: []netip.AddrPort{loopback(seeder)}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for leecher.Stats().PiecesHave == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	for name, s := range map[string]*Session{"seeder": seeder, "leecher": leecher} {
		procs, err := s.Processes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, p := range procs {
			kinds[p.Kind]++
			snap, err := p.Machine.Inspect(ctx)
			if err != nil {
				t.Fatalf("%s: inspect %s %s: %v", name, p.Kind, p.Name, err)
			}
			if snap.State == "" || p.Kind == "session" && len(snap.Log) == 0 {
				t.Errorf("%s: %s %s: snapshot %+v", name, p.Kind, p.Name, snap)
			}
		}
		if kinds["session"] != 1 || kinds["peer"] != 1 || kinds["announcer"] != 0 {
			t.Errorf("%s: processes %v", name, kinds)
		}
		if _, ok, err := s.TrackerStatus(ctx); ok || err != nil {
			t.Errorf("%s: tracker status without trackers: %v %v", name, ok, err)
		}
	}
	awaitOrFail(t, leecher, 30*time.Second)
	c := leecher.Counters()
	if n := uint64(mi.Info.NumPieces()); c.PiecesVerified != n || c.PiecesFailed != 0 || c.Bans != 0 {
		t.Errorf("leecher counters %+v, want %d verified", c, n)
	}
	hash, write := env.Timings()
	if hash.Count != c.PiecesVerified || write.Count != c.PiecesVerified || hash.Sum <= 0 {
		t.Errorf("timings: hash %+v write %+v", hash, write)
	}

	leecher.SetRateLimits(1000, 0)
	if !leecher.facts.down.limited() || leecher.facts.up.limited() {
		t.Error("SetRateLimits(1000, 0) did not limit downloads only")
	}

	// A live watch of the session machine sees the event AddPeers causes.
	got := make(chan string, 64)
	unwatch, err := leecher.m.Watch(ctx, func(te statem.TraceEvent) {
		select {
		case got <- te.Summary():
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unwatch()
	leecher.AddPeers(netip.MustParseAddrPort("127.0.0.1:1"))
	// Other events may come first (the seeder, complete too, hangs up).
	var seen []string
	for want := "event {cast session.evAddPeers} seeding"; ; {
		select {
		case line := <-got:
			if line == want {
				return
			}
			seen = append(seen, line)
		case <-ctx.Done():
			t.Fatalf("no %q traced; saw %q", want, seen)
		}
	}
}
