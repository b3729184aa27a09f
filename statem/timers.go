package statem

import (
	"time"
	"unsafe"
)

// timerEntry is one time-out that is running, queued as a zero time-out
// (t0q) or expired but not yet delivered. The content is read from here at
// delivery, so UpdateTimeout also applies to an expired timer whose
// message is still in the mailbox.
//
// Every start of a time-out makes a new entry, and the expiry message
// carries the entry's pointer: the entry is the timer's generation. A
// message whose entry is no longer in the table (cancelled, restarted,
// or cancelled by a state change or an event) is stale and dropped.
//
// The table is a slice searched linearly: machines run a handful of
// time-outs, and a slice keeps the start order that Status reports.
type timerEntry struct {
	kind     EventType
	name     any // GenericTimeout only
	content  any
	t        *time.Timer // nil for a zero time-out in t0q
	deadline time.Time
	inT0q    bool
}

func (e *timerEntry) is(kind EventType, name any) bool {
	return e.kind == kind && (kind != GenericTimeout || e.name == name)
}

// findTimer returns the index of the entry for (kind, name) or -1.
func (m *Machine[S, D]) findTimer(kind EventType, name any) int {
	for i := range m.timers {
		if m.timers[i].is(kind, name) {
			return i
		}
	}
	return -1
}

// removeTimer drops entry i: its timer is stopped, its t0q slot removed,
// and any message it already posted is stale (generation mismatch).
func (m *Machine[S, D]) removeTimer(i int) {
	e := m.timers[i]
	if e.t != nil {
		e.t.Stop()
	}
	if e.inT0q {
		for j, k := range m.t0q {
			if k == e {
				n := len(m.t0q)
				copy(m.t0q[j:], m.t0q[j+1:])
				m.t0q[n-1] = nil
				m.t0q = m.t0q[:n-1]
				break
			}
		}
	}
	copy(m.timers[i:], m.timers[i+1:])
	m.timers[len(m.timers)-1] = nil
	m.timers = m.timers[:len(m.timers)-1]
}

// cancelTimer cancels the time-out (kind, name) if it exists.
func (m *Machine[S, D]) cancelTimer(kind EventType, name any) {
	if len(m.timers) == 0 {
		return
	}
	if i := m.findTimer(kind, name); i >= 0 {
		m.removeTimer(i)
	}
}

// startTimer starts a real timer for (kind, name) firing after d (which may
// be <= 0 for an absolute deadline in the past: it then expires at once,
// through the mailbox).
func (m *Machine[S, D]) startTimer(kind EventType, name any, d time.Duration, content any) {
	e := &timerEntry{kind: kind, name: name, content: content, deadline: time.Now().Add(d)}
	e.t = time.AfterFunc(d, func() {
		m.mb.put(envelope{kind: msgTimer, ref: unsafe.Pointer(e)})
	})
	m.timers = append(m.timers, e)
}

// queueZero registers a zero time-out and appends it to t0q.
func (m *Machine[S, D]) queueZero(kind EventType, name any, content any) {
	e := &timerEntry{kind: kind, name: name, content: content, deadline: time.Now(), inT0q: true}
	m.timers = append(m.timers, e)
	m.t0q = append(m.t0q, e)
}

// popT0 takes the oldest zero time-out as an event.
func (m *Machine[S, D]) popT0() Event {
	e := m.t0q[0]
	n := len(m.t0q)
	copy(m.t0q, m.t0q[1:])
	m.t0q[n-1] = nil
	m.t0q = m.t0q[:n-1]
	e.inT0q = false
	for i := range m.timers {
		if m.timers[i] == e {
			m.removeTimer(i)
			break
		}
	}
	return Event{Type: e.kind, Name: e.name, Content: e.content}
}

// timerFired turns a timer message into an event, or reports false if the
// timer was cancelled or restarted since (a stale message).
func (m *Machine[S, D]) timerFired(fired *timerEntry) (Event, bool) {
	for i, e := range m.timers {
		if e == fired {
			m.removeTimer(i)
			return Event{Type: e.kind, Name: e.name, Content: e.content}, true
		}
	}
	return Event{}, false
}

// applyTimeouts runs the time-out actions of one transition (step 6). For
// each time-out only the last action in the list counts; zero time-outs
// join t0q in list order.
func (m *Machine[S, D]) applyTimeouts() {
	acts := m.touts
	m.zeros = m.zeros[:0]
outer:
	for i := len(acts) - 1; i >= 0; i-- {
		a := &acts[i]
		for j := i + 1; j < len(acts); j++ {
			if acts[j].ev == a.ev && (a.ev != GenericTimeout || acts[j].name == a.name) {
				continue outer // a later action of the same time-out wins
			}
		}
		switch a.kind {
		case actCancelTimeout:
			m.cancelTimer(a.ev, a.name)
		case actUpdateTimeout:
			if k := m.findTimer(a.ev, a.name); k >= 0 {
				m.timers[k].content = a.content
			} else {
				m.zeros = append(m.zeros, i)
			}
		case actSetTimeout:
			m.cancelTimer(a.ev, a.name)
			switch {
			case a.at != nil:
				m.startTimer(a.ev, a.name, time.Until(*a.at), a.content)
			case a.d < 0: // Infinity: cancelled above
			case a.d == 0:
				m.zeros = append(m.zeros, i)
			default:
				m.startTimer(a.ev, a.name, a.d, a.content)
			}
		}
	}
	for k := len(m.zeros) - 1; k >= 0; k-- {
		a := &acts[m.zeros[k]]
		m.queueZero(a.ev, a.name, a.content)
	}
	clear(m.touts)
	m.touts = m.touts[:0]
}

// stopTimers stops every timer when the machine ends.
func (m *Machine[S, D]) stopTimers() {
	for _, e := range m.timers {
		if e.t != nil {
			e.t.Stop()
		}
	}
	clear(m.timers)
	m.timers = nil
	clear(m.t0q)
	m.t0q = nil
}
