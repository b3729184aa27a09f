package client

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestVerifyReadsEverything: a byte corrupted behind the client's back,
// with the file's modification time put back (so the resume store would
// trust it), is found by Verify, which hashes every piece; a paused
// torrent is verified and stays paused.
func TestVerifyReadsEverything(t *testing.T) {
	fx := newFixture(t, 200_000, 100_000)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	p := filepath.Join(fx.dir, "payload", "d", "a.bin")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	b[5] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tt.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	st, ss := tt.Stats(), tt.sessionStats()
	if ss.PiecesChecked != st.PiecesTotal || st.PiecesHave != st.PiecesTotal-1 || st.State != Downloading {
		t.Fatalf("after Verify: %v, %d/%d pieces, %d hashed", st.State, st.PiecesHave, st.PiecesTotal, ss.PiecesChecked)
	}
	if h := tt.Have(); h.Has(0) || h.Count() != st.PiecesTotal-1 {
		t.Fatalf("Have: piece 0 %v, %d pieces", h.Has(0), h.Count())
	}

	if err := tt.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	b[5] ^= 0xff // repaired: the next verify finds every piece
	os.WriteFile(p, b, 0o644)
	if err := tt.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if st := tt.Stats(); st.State != Paused || st.PiecesHave != st.PiecesTotal {
		t.Fatalf("paused torrent after Verify: %v, %d/%d pieces", st.State, st.PiecesHave, st.PiecesTotal)
	}
	if h := tt.Have(); h.Count() != st.PiecesTotal {
		t.Fatalf("Have while paused: %d pieces", h.Count())
	}
}

// TestProcessesAndLimits: the client lists its acceptor pool and each
// running torrent's session; a torrent's own rate limits survive a pause.
func TestProcessesAndLimits(t *testing.T) {
	fx := newFixture(t, 100_000)
	c := newClient(t, t.TempDir())
	tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: fx.dir})
	if err != nil {
		t.Fatal(err)
	}
	await(t, tt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ps, err := c.Processes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[0].Kind != "acceptor" || ps[1].Kind != "session" || ps[1].InfoHash != fx.mi.InfoHash || ps[1].Torrent != "payload" {
		t.Fatalf("processes %+v", ps)
	}
	for _, p := range ps {
		if _, err := p.Machine.Inspect(ctx); err != nil {
			t.Fatalf("inspect %s: %v", p.Kind, err)
		}
	}
	if _, ok := tt.TrackerStatus(ctx); ok {
		t.Error("a torrent without trackers has a tracker status")
	}
	tt.SetRateLimits(1000, -5)
	tt.Pause(ctx)
	if err := tt.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if d, u := tt.RateLimits(); d != 1000 || u != 0 {
		t.Fatalf("limits %d %d", d, u)
	}
	if hash, _ := c.Timings(); hash.Count != 0 {
		t.Fatalf("hashed %d received pieces without a download", hash.Count)
	}
	if n := tt.Counters(); n.PiecesVerified != 0 {
		t.Fatalf("counters %+v", n)
	}
}
