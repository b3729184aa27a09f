package connection

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy computes successive backoff delays; it is the interface of
// github.com/cenkalti/backoff (v4 and v5), so any of its policies fit.
// A Connect callback returns Backoff(p.NextBackOff(), d) on failure and
// calls p.Reset() on success. A negative delay (backoff.Stop) given to
// Backoff means no timer: stay disconnected. Policies need not be safe for
// concurrent use: they live in the handler's data.
type Policy interface {
	NextBackOff() time.Duration
	Reset()
}

// Default policy parameters: the delays grow from DefaultInitial by
// DefaultMultiplier up to DefaultMax, each randomised by ±DefaultJitter.
const (
	DefaultInitial    = 500 * time.Millisecond
	DefaultMultiplier = 1.5
	DefaultMax        = 30 * time.Second
	DefaultJitter     = 0.5
)

// DefaultPolicy returns exponential backoff with jitter that never gives
// up (it never returns backoff.Stop): the base delay grows from
// DefaultInitial by DefaultMultiplier and is capped at DefaultMax; each
// delay is the base ±DefaultJitter (so at most 1.5 × DefaultMax). It
// uses only cenkalti/backoff/v5's ExponentialBackOff policy: never its
// Retry, whose 15-minute default cut-off and own timer would fight the
// connection's cancellable backoff timer.
func DefaultPolicy() Policy {
	return &backoff.ExponentialBackOff{
		InitialInterval:     DefaultInitial,
		RandomizationFactor: DefaultJitter,
		Multiplier:          DefaultMultiplier,
		MaxInterval:         DefaultMax,
	}
}
