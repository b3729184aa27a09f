package swarm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunSmallSwarm runs a real swarm on loopback: a tracker, one seeder and
// two leechers of a 3-file payload, and checks every copy and the summary.
func TestRunSmallSwarm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	dir := t.TempDir()
	res, err := Run(ctx, Config{
		Size: 8 << 20, Files: 3, PieceLength: 64 << 10, Leechers: 2,
		Dir: dir, Progress: &progress, Interval: time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Leechers) != 2 || res.Seeders != 1 || res.Files != 3 {
		t.Fatalf("result shape: %+v", res)
	}
	if res.Pieces != 128 || res.PieceLength != 64<<10 {
		t.Errorf("pieces %d of %d, want 128 of 65536", res.Pieces, res.PieceLength)
	}
	for i, l := range res.Leechers {
		if !l.Verified || l.Elapsed <= 0 || l.Elapsed > res.Elapsed {
			t.Errorf("leecher %d: %+v (elapsed all %v)", i+1, l, res.Elapsed)
		}
		if l.PeersSeen < 1 {
			t.Errorf("leecher %d saw no peers", i+1)
		}
		if !l.Addr.Addr().IsLoopback() {
			t.Errorf("leecher %d listens on %v, not loopback", i+1, l.Addr)
		}
	}
	if res.Throughput() <= 0 || res.MaxRSS <= 0 || res.TotalCPU <= 0 {
		t.Errorf("throughput %v, maxrss %d, cpu %v", res.Throughput(), res.MaxRSS, res.TotalCPU)
	}
	if !strings.Contains(res.Tracker, "127.0.0.1:") {
		t.Errorf("tracker %q not on loopback", res.Tracker)
	}
	if !strings.Contains(progress.String(), "leecher 2") || !strings.Contains(progress.String(), "total 100%") {
		t.Errorf("progress lines lack leecher 2 or a final total 100%%:\n%s", progress.String())
	}
	var sum bytes.Buffer
	if err := res.WriteSummary(&sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"8 MiB in 3 files", "leecher 1", "leecher 2", "aggregate", "every copy matches"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	// Not kept: the work directory Run made under dir is gone.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("work directory not cleaned: %v", ents)
	}
}

func TestRunKeep(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Size: 1 << 20, Leechers: 1, Dir: t.TempDir(), Keep: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, p := range []string{"swarm.torrent", "seed/swarm-payload", "leecher-1/swarm-payload"} {
		if _, err := os.Stat(filepath.Join(res.Dir, p)); err != nil {
			t.Errorf("kept %s: %v", p, err)
		}
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{Size: -1},
		{Size: 10, Files: 11},
		{Leechers: maxLeechers + 1},
		{Seeders: -1},
		{PieceLength: 3 << 20},
		{PieceLength: 8 << 10},
	} {
		if _, err := Run(context.Background(), c); !errors.Is(err, ErrBadConfig) {
			t.Errorf("Run(%+v): %v, want ErrBadConfig", c, err)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Size: 1 << 20, Leechers: 1, Dir: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run on a cancelled context: %v, want context.Canceled", err)
	}
}

func TestVerifyFindsEveryDifference(t *testing.T) {
	src := t.TempDir()
	pl, err := makePayload(src, "p", 3<<20+17, 4)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range pl.files {
		total += f.length
		if f.length < 1 {
			t.Errorf("%s is empty", f.rel)
		}
	}
	if total != pl.size || len(pl.files) != 4 {
		t.Fatalf("%d files of %d bytes in all, want 4 of %d", len(pl.files), total, pl.size)
	}
	clone := func(t *testing.T) string {
		d := t.TempDir()
		for _, f := range pl.files {
			b, err := os.ReadFile(filepath.Join(src, f.rel))
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Dir(filepath.Join(d, f.rel)), 0o755)
			if err := os.WriteFile(filepath.Join(d, f.rel), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	if err := pl.verify(1, src, clone(t)); err != nil {
		t.Fatalf("identical copy: %v", err)
	}
	target := pl.files[2]
	cases := []struct {
		name   string
		damage func(path string)
		reason string
		offset int64
	}{
		{"flipped byte", func(p string) {
			f, _ := os.OpenFile(p, os.O_RDWR, 0)
			var b [1]byte
			f.ReadAt(b[:], 12345)
			b[0] ^= 1
			f.WriteAt(b[:], 12345)
			f.Close()
		}, "content", 12345},
		{"short", func(p string) { os.Truncate(p, target.length-1) }, "length", target.length - 1},
		{"long", func(p string) { os.Truncate(p, target.length+5) }, "length", target.length},
		{"missing", func(p string) { os.Remove(p) }, "no such file", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := clone(t)
			c.damage(filepath.Join(d, target.rel))
			err := pl.verify(3, src, d)
			var me *MismatchError
			if !errors.As(err, &me) || !errors.Is(err, ErrMismatch) {
				t.Fatalf("verify: %v, want a *MismatchError", err)
			}
			if me.Leecher != 3 || me.File != target.rel || !strings.Contains(me.Reason, c.reason) || me.Offset != c.offset {
				t.Errorf("got %+v, want file %s reason %q offset %d", me, target.rel, c.reason, c.offset)
			}
		})
	}
}
