package utp

import (
	"testing"
	"time"
)

func TestLedbatGrowsBelowTargetAndShrinksAbove(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLedbat(1000, 1<<20)
	l.slowStart = false
	l.cwnd = 100000
	l.sample(5000, now, 0) // base delay 5 ms
	l.sample(5000, now, 0)
	// Zero queuing delay, a full window acked: +gain (3000 bytes per RTT).
	before := l.cwnd
	for range 100 {
		l.acked(1000, true)
	}
	// (a little under 3000: the window grows while it is being acked)
	if got := l.cwnd - before; got < 2900 || got > 3000 {
		t.Fatalf("one window acked at zero queuing delay grew cwnd by %.1f, want about 3000", got)
	}
	// 125 ms queuing delay (25% over the target): each acked byte takes a
	// quarter byte off the window (multiplicative: a quarter per RTT).
	for range 3 {
		l.sample(130000, now, time.Second)
	}
	if l.ourDelay != 125*time.Millisecond {
		t.Fatalf("queuing delay %v", l.ourDelay)
	}
	before = l.cwnd
	l.acked(4000, true)
	if got := before - l.cwnd; got != 1000 {
		t.Fatalf("4000 bytes acked at 1.25x target shrank cwnd by %.1f, want 1000", got)
	}
	// Far above the target the decrease is capped at half per window.
	for range 3 {
		l.sample(1005000, now, 2*time.Second)
	}
	before = l.cwnd
	l.acked(4000, true)
	if got := before - l.cwnd; got != 2000 {
		t.Fatalf("4000 bytes acked at 10x target shrank cwnd by %.1f, want 2000", got)
	}
	// Exactly at the target: no change.
	for range 3 {
		l.sample(105000, now, time.Second)
	}
	before = l.cwnd
	l.acked(1000, true)
	if l.cwnd != before {
		t.Fatalf("at target cwnd moved %v -> %v", before, l.cwnd)
	}
	// Not window-limited: no growth.
	for range 3 {
		l.sample(5000, now, time.Second)
	}
	before = l.cwnd
	l.acked(1000, false)
	if l.cwnd != before {
		t.Fatal("application-limited sender grew its window")
	}
}

func TestLedbatQueuingDelayBoundedByRTT(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLedbat(1000, 1<<20)
	l.sample(1000, now, 0)
	l.sample(901000, now, 50*time.Millisecond)
	l.sample(901000, now, 50*time.Millisecond)
	if q := l.sample(901000, now, 50*time.Millisecond); q != 50*time.Millisecond {
		t.Fatalf("queuing delay %v above the RTT", q)
	}
}

// The base delay is the minimum over 13 one-minute buckets: an old minimum
// is forgotten after 13 minutes, and timestamps wrap.
func TestLedbatBaseDelayHistory(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLedbat(1000, 1<<20)
	base := uint32(0xffffff00) // near the wrap
	l.sample(base, now, 0)
	for m := 1; m <= 12; m++ {
		l.sample(base+50000, now.Add(time.Duration(m)*time.Minute), 0)
	}
	if l.baseDelay() != base {
		t.Fatalf("base %d, want %d kept for 13 minutes", l.baseDelay(), base)
	}
	l.sample(base+50000, now.Add(13*time.Minute), 0)
	if l.baseDelay() != base+50000 {
		t.Fatalf("base %d, want the old minimum forgotten", l.baseDelay())
	}
	// After the wrap, a smaller difference still compares smaller.
	l.sample(base+40000, now.Add(13*time.Minute), 0)
	if l.baseDelay() != base+40000 {
		t.Fatalf("base %d across the wrap", l.baseDelay())
	}
}

func TestLedbatLossAndTimeout(t *testing.T) {
	l := newLedbat(1000, 1<<20)
	l.cwnd = 64000
	l.lost()
	if l.cwnd != 32000 || l.slowStart {
		t.Fatalf("loss: cwnd %v slow start %v", l.cwnd, l.slowStart)
	}
	l.timedOut()
	if l.cwnd != 1000 || !l.slowStart || l.ssthresh != 16000 {
		t.Fatalf("timeout: %+v", l)
	}
	for range 10 {
		l.lost()
	}
	if l.cwnd != 1000 {
		t.Fatal("window below one packet")
	}
}

func TestRTTEstimator(t *testing.T) {
	r := newRTT()
	if r.rto != time.Second {
		t.Fatal("initial RTO")
	}
	r.sample(100 * time.Millisecond)
	// rtt 100, var 50: 100 + 200 = 300 -> the 500 ms floor
	if r.rtt != 100*time.Millisecond || r.rttVar != 50*time.Millisecond || r.rto != minRTO {
		t.Fatalf("%+v", r)
	}
	r.sample(900 * time.Millisecond)
	// delta 800: var = 50 + (800-50)/4 = 237.5; rtt = 100 + 800/8 = 200; rto = 200 + 950
	if r.rtt != 200*time.Millisecond || r.rttVar != 237500*time.Microsecond || r.rto != 1150*time.Millisecond {
		t.Fatalf("%+v", r)
	}
	for range 10 {
		r.backoff()
	}
	if r.rto != maxRTO {
		t.Fatalf("backoff cap: %v", r.rto)
	}
}
