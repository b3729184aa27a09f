package swarm

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRunTrackerless: with DHT, no tracker runs; the seeder announces on a
// loopback DHT, leechers start from a bare magnet link, find the seeder
// (and the metadata, and each other) through the DHT only, and every copy
// verifies.
func TestRunTrackerless(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := Run(ctx, Config{
		Size: 6 << 20, Files: 2, PieceLength: 64 << 10, Leechers: 3, DHT: true, DHTNodes: 8,
		Dir: t.TempDir(), Progress: &progress, Interval: time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if res.Tracker != "" || res.DHTNodes != 8 {
		t.Fatalf("tracker %q, DHT nodes %d", res.Tracker, res.DHTNodes)
	}
	for i, l := range res.Leechers {
		if !l.Verified || l.PeersSeen < 1 {
			t.Errorf("leecher %d: %+v", i+1, l)
		}
	}
	var sum bytes.Buffer
	res.WriteSummary(&sum)
	if !strings.Contains(sum.String(), "no tracker: a loopback DHT of 8 nodes") || !strings.Contains(sum.String(), "every copy matches") {
		t.Errorf("summary:\n%s", sum.String())
	}
	if !strings.Contains(progress.String(), "no tracker, a loopback DHT of 8 nodes") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestRunTrackerlessBadNodes(t *testing.T) {
	_, err := Run(context.Background(), Config{DHT: true, DHTNodes: maxDHTNodes + 1})
	if !errors.Is(err, ErrBadConfig) {
		t.Fatalf("err %v", err)
	}
}
