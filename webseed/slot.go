package webseed

import (
	"context"
	"sync"
	"time"
)

// slot is one connection's worth of state, used by the Fetch calls that
// hold it in turn: the stall timer and the current Fetch's cancel
// function, which the timer and Drop call. Reusing them keeps a request's
// allocations to net/http's own, the Range header and the Fetch's context.
type slot struct {
	seed  *Seed
	one   [1]byte // probes for bytes beyond the range asked
	timer *time.Timer

	mu       sync.Mutex
	cancel   context.CancelCauseFunc // the current Fetch's; nil while idle
	deadline time.Time               // when the current Fetch times out
}

func newSlot(s *Seed) *slot {
	sl := &slot{seed: s}
	sl.timer = time.AfterFunc(time.Hour, sl.expire)
	sl.timer.Stop()
	return sl
}

// begin attaches a Fetch and starts its clock. The deadline is set with
// the cancel function, so that a firing left over from the previous Fetch
// finds it in the future and does nothing.
func (sl *slot) begin(cancel context.CancelCauseFunc) {
	d := sl.seed.cfg.Timeout
	sl.mu.Lock()
	sl.cancel, sl.deadline = cancel, time.Now().Add(d)
	sl.mu.Unlock()
	sl.timer.Reset(d)
}

// progress gives the current Fetch another Timeout.
func (sl *slot) progress() {
	d := sl.seed.cfg.Timeout
	sl.mu.Lock()
	sl.deadline = time.Now().Add(d)
	sl.mu.Unlock()
	sl.timer.Reset(d)
}

// end detaches the Fetch.
func (sl *slot) end() {
	sl.mu.Lock()
	sl.cancel = nil
	sl.mu.Unlock()
	sl.timer.Stop()
}

// expire is the timer's function: it fails the current Fetch unless its
// deadline has moved since the timer was set (a firing that raced with
// progress; the timer is then set again).
func (sl *slot) expire() {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.cancel != nil && !time.Now().Before(sl.deadline) {
		sl.cancel(ErrTimeout)
	}
}

// abort cancels the current Fetch, if any, with cause.
func (sl *slot) abort(cause error) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.cancel != nil {
		sl.cancel(cause)
	}
}
