package utp

import "time"

// Timers are coalesced: the Socket has one goroutine and one time.Timer
// for all its connections. Each connection keeps one deadline (the
// earliest of its retransmission, zero-window probe, keep-alive, half-open
// and linger deadlines) in a min-heap. Moving a deadline later costs
// nothing (the old entry fires early and the connection reschedules);
// only moving it earlier pushes a new entry, and entries whose generation
// no longer matches are skipped.

type timerEntry struct {
	when time.Time
	c    *Conn
	gen  uint64
}

type timerHeap []timerEntry

func (h *timerHeap) push(e timerEntry) {
	*h = append(*h, e)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !a[i].when.Before(a[p].when) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *timerHeap) pop() timerEntry {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a[last] = timerEntry{}
	a = a[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].when.Before(a[m].when) {
			m = l
		}
		if r < len(a) && a[r].when.Before(a[m].when) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// schedule asks for c.onTimer at t or earlier (c.mu held).
func (c *Conn) schedule(t time.Time) {
	if t.IsZero() || c.state == csClosed {
		return
	}
	if !c.timerAt.IsZero() && !t.Before(c.timerAt) {
		return
	}
	c.timerAt = t
	c.timerGen++
	s := c.s
	s.tmu.Lock()
	s.theap.push(timerEntry{when: t, c: c, gen: c.timerGen})
	first := s.theap[0].c == c && s.theap[0].gen == c.timerGen
	s.tmu.Unlock()
	if first {
		select {
		case s.timerWake <- struct{}{}:
		default:
		}
	}
}

// timerSlack lets one wake-up serve deadlines that are due a little later.
const timerSlack = time.Millisecond

func (s *Socket) timerLoop() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	b := newTxBatch()
	var due []timerEntry
	for {
		s.tmu.Lock()
		wait := time.Hour
		if len(s.theap) > 0 {
			wait = max(time.Until(s.theap[0].when), 0)
		}
		s.tmu.Unlock()
		t.Reset(wait)
		select {
		case <-s.closing:
			return
		case <-s.timerWake:
			continue
		case <-t.C:
		}
		now := time.Now()
		s.tmu.Lock()
		for len(s.theap) > 0 && !s.theap[0].when.After(now.Add(timerSlack)) {
			due = append(due, s.theap.pop())
		}
		s.tmu.Unlock()
		for i := range due {
			e := &due[i]
			c := e.c
			c.mu.Lock()
			if c.timerGen == e.gen {
				c.timerAt = time.Time{}
				c.onTimer(b, now)
				s.flush(b)
			}
			c.mu.Unlock()
			*e = timerEntry{}
		}
		due = due[:0]
	}
}
