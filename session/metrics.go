package session

import (
	"sync/atomic"
	"time"
)

// Counters are a session's cumulative counts since Start, for metrics.
type Counters struct {
	// PiecesVerified and PiecesFailed count received pieces that passed
	// and failed verification (the start-up check is not counted).
	PiecesVerified, PiecesFailed uint64
	// Bans counts peers banned for sending data that failed verification.
	Bans uint64
}

// Counters returns the session's counts; it never blocks.
func (s *Session) Counters() Counters {
	return Counters{
		PiecesVerified: s.ctr.verified.Load(),
		PiecesFailed:   s.ctr.failed.Load(),
		Bans:           s.ctr.bans.Load(),
	}
}

// sessionCounters back Counters; the session goroutine adds to them.
type sessionCounters struct {
	verified, failed, bans atomic.Uint64
}

func (c *sessionCounters) hashed(ok bool) {
	if ok {
		c.verified.Add(1)
	} else {
		c.failed.Add(1)
	}
}

// LatencyBounds are the upper bounds of the buckets of a Histogram.
var LatencyBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
}

// Histogram is a latency distribution: Counts[i] is the number of
// observations at most LatencyBounds[i] and above the bound before it;
// the last count is those above every bound.
type Histogram struct {
	Counts [len(LatencyBounds) + 1]uint64
	Count  uint64
	Sum    time.Duration
}

// latency is a histogram updated from any goroutine, one atomic add per
// bucket hit.
type latency struct {
	buckets [len(LatencyBounds) + 1]atomic.Uint64
	sum     atomic.Int64
}

func (l *latency) observe(d time.Duration) {
	i := 0
	for i < len(LatencyBounds) && d > LatencyBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sum.Add(int64(d))
}

func (l *latency) snapshot() Histogram {
	var h Histogram
	for i := range l.buckets {
		h.Counts[i] = l.buckets[i].Load()
		h.Count += h.Counts[i]
	}
	h.Sum = time.Duration(l.sum.Load())
	return h
}

// Timings returns how long the environment's hashers took to hash a
// received piece (the whole batch it was hashed in) and to write a
// verified one, over every session since NewEnv. It never blocks.
func (e *Env) Timings() (hash, write Histogram) {
	return e.hashers.hashTime.snapshot(), e.hashers.writeTime.snapshot()
}
