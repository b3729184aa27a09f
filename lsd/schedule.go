package lsd

import (
	"slices"
	"time"
)

// schedule decides which info-hashes each announce carries, following
// BEP 14: every torrent every Interval (5 min), no more than one message
// per MinGap (1 min), up to MaxInfoHashes per message, the most overdue
// first (a round robin when there are more torrents than fit). It is pure:
// the caller passes the time.
type schedule struct {
	interval, gap time.Duration
	due           map[[20]byte]time.Time
	lastSend      time.Time
}

func newSchedule(interval, gap time.Duration) *schedule {
	return &schedule{interval: interval, gap: gap, due: make(map[[20]byte]time.Time)}
}

// add makes ih due now (a torrent already known keeps its time).
func (s *schedule) add(ih [20]byte, now time.Time) {
	if _, ok := s.due[ih]; !ok {
		s.due[ih] = now
	}
}

func (s *schedule) remove(ih [20]byte) { delete(s.due, ih) }

// next returns when the next message may go out with something due (zero
// when nothing is registered).
func (s *schedule) next() time.Time {
	if len(s.due) == 0 {
		return time.Time{}
	}
	var earliest time.Time
	for _, t := range s.due {
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	if !s.lastSend.IsZero() {
		if g := s.lastSend.Add(s.gap); g.After(earliest) {
			return g
		}
	}
	return earliest
}

// take returns the info-hashes of a message sent now (nil when the gap
// has not passed or nothing is due) and marks them sent.
func (s *schedule) take(now time.Time) [][20]byte {
	if !s.lastSend.IsZero() && now.Sub(s.lastSend) < s.gap {
		return nil
	}
	type item struct {
		ih  [20]byte
		due time.Time
	}
	var items []item
	for ih, t := range s.due {
		if !t.After(now) {
			items = append(items, item{ih, t})
		}
	}
	if len(items) == 0 {
		return nil
	}
	slices.SortFunc(items, func(a, b item) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return slices.Compare(a.ih[:], b.ih[:])
	})
	items = items[:min(len(items), MaxInfoHashes)]
	out := make([][20]byte, len(items))
	for i, it := range items {
		out[i] = it.ih
		s.due[it.ih] = now.Add(s.interval)
	}
	s.lastSend = now
	return out
}
