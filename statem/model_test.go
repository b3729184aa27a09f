package statem

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// This file checks the engine against a small reference model of the
// transition algorithm, written separately and as literally as possible
// from the spec: random action lists (fixed seeds, bounded length) drive
// both, and the sequence of (state, event) they handle must be identical.
// Time-outs are zero, Infinity or an hour (never expiring during the run),
// so the order is fully determined by the algorithm.

// A scripted action, independent of the engine's Action type.
type mAct struct {
	kind  string // postpone, next, set, cancel, update
	ev    EventType
	name  string
	d     time.Duration
	label string
}

// A scripted callback result.
type mDecision struct {
	kind string // next, keep, repeat
	to   int
	acts []mAct
}

const modelSteps = 150

var timeoutKinds = []EventType{EventTimeout, StateTimeout, GenericTimeout}

// decide returns the scripted result for the step-th callback (enter calls
// are numbered separately): a pure function of the seed and the step.
func decide(seed uint64, step int, enter bool) mDecision {
	var stream uint64 = uint64(step) * 2
	if enter {
		stream++
	}
	r := rand.New(rand.NewPCG(seed, stream))
	if step >= modelSteps {
		return mDecision{kind: "keep"}
	}
	dec := mDecision{kind: "keep"}
	if !enter {
		switch r.IntN(6) {
		case 0, 1:
			dec.kind, dec.to = "next", r.IntN(3)
		case 2:
			dec.kind = "repeat"
		}
	}
	n := r.IntN(5)
	for i := range n {
		a := mAct{label: fmt.Sprintf("s%d.%d", step, i)}
		if enter {
			a.label = "e" + a.label
		}
		k := r.IntN(10)
		if enter && k < 3 {
			k += 3 // no postpone or next event from enter calls
		}
		switch k {
		case 0:
			a.kind = "postpone"
		case 1, 2:
			a.kind = "next"
			a.ev = []EventType{Internal, Cast, Info}[r.IntN(3)]
		default:
			a.kind = []string{"set", "set", "set", "cancel", "update"}[r.IntN(5)]
			a.ev = timeoutKinds[r.IntN(3)]
			if a.ev == GenericTimeout {
				a.name = []string{"x", "y"}[r.IntN(2)]
			}
			a.d = []time.Duration{0, 0, Infinity, time.Hour}[r.IntN(4)]
		}
		dec.acts = append(dec.acts, a)
	}
	return dec
}

// toActions turns scripted actions into engine actions.
func toActions(acts []mAct) []Action {
	var out []Action
	for _, a := range acts {
		var name any
		if a.ev == GenericTimeout {
			name = a.name
		}
		switch a.kind {
		case "postpone":
			out = append(out, Postpone())
		case "next":
			out = append(out, NextEvent(a.ev, a.label))
		case "set":
			switch a.ev {
			case EventTimeout:
				out = append(out, SetEventTimeout(a.d, a.label))
			case StateTimeout:
				out = append(out, SetStateTimeout(a.d, a.label))
			default:
				out = append(out, SetGenericTimeout(name, a.d, a.label))
			}
		case "cancel":
			out = append(out, CancelTimeout(a.ev, name))
		case "update":
			out = append(out, UpdateTimeout(a.ev, name, a.label))
		}
	}
	return out
}

// The reference model.

type mEvent struct {
	typ     EventType
	name    string
	content string
}

func (e mEvent) String() string {
	if e.typ == GenericTimeout {
		return fmt.Sprintf("{%v %v %v}", e.typ, e.name, e.content)
	}
	return fmt.Sprintf("{%v %v}", e.typ, e.content)
}

type mKey struct {
	kind EventType
	name string
}

type model struct {
	seed       uint64
	enterCalls bool
	state      int
	queue      []mEvent // front is next
	postponed  []mEvent
	t0q        []mKey
	timers     map[mKey]string // content of running, zero or expired timers
	mailbox    []mEvent
	steps      int
	enters     int
	log        []string
}

func (m *model) removeTimer(k mKey) {
	delete(m.timers, k)
	for i, q := range m.t0q {
		if q == k {
			m.t0q = append(m.t0q[:i], m.t0q[i+1:]...)
			break
		}
	}
}

// applyTimeouts applies, in list order, the last action of each time-out.
func (m *model) applyTimeouts(acts []mAct) {
	last := map[mKey]int{}
	for i, a := range acts {
		if a.kind == "set" || a.kind == "cancel" || a.kind == "update" {
			last[mKey{a.ev, a.name}] = i
		}
	}
	for i, a := range acts {
		k := mKey{a.ev, a.name}
		if j, ok := last[k]; !ok || j != i {
			continue
		}
		switch {
		case a.kind == "cancel" || (a.kind == "set" && a.d < 0):
			m.removeTimer(k)
		case a.kind == "update":
			if _, running := m.timers[k]; running {
				m.timers[k] = a.label
			} else {
				m.timers[k] = a.label
				m.t0q = append(m.t0q, k)
			}
		case a.d == 0:
			m.removeTimer(k)
			m.timers[k] = a.label
			m.t0q = append(m.t0q, k)
		default: // an hour: running, never expires in the test
			m.removeTimer(k)
			m.timers[k] = a.label
		}
	}
}

// transition implements steps 1-6 for a decision taken in the current
// state while handling ev (nil for init).
func (m *model) transition(ev *mEvent, dec mDecision) {
	next := m.state
	if dec.kind == "next" {
		next = dec.to
	}
	var inserted []mEvent
	var touts []mAct
	postpone := false
	for _, a := range dec.acts {
		switch a.kind {
		case "postpone":
			postpone = ev != nil
		case "next":
			inserted = append(inserted, mEvent{typ: a.ev, content: a.label})
		default:
			touts = append(touts, a)
		}
	}
	if m.enterCalls && (ev == nil || dec.kind == "repeat" || next != m.state) {
		old := m.state
		m.log = append(m.log, fmt.Sprintf("%d {enter %d}", next, old))
		ed := decide(m.seed, m.enters, true)
		m.enters++
		touts = append(touts, ed.acts...)
	}
	if postpone {
		m.postponed = append(m.postponed, *ev)
	}
	changed := next != m.state
	m.state = next
	m.removeTimer(mKey{EventTimeout, ""})
	if changed {
		m.queue = append(append([]mEvent{}, m.postponed...), m.queue...)
		m.postponed = nil
		m.removeTimer(mKey{StateTimeout, ""})
	}
	m.applyTimeouts(touts)
	m.queue = append(inserted, m.queue...)
}

func (m *model) run(initActs []mAct) []string {
	m.timers = map[mKey]string{}
	m.transition(nil, mDecision{kind: "keep", acts: initActs})
	for {
		var ev mEvent
		switch {
		case len(m.queue) > 0:
			ev, m.queue = m.queue[0], m.queue[1:]
		case len(m.t0q) > 0:
			k := m.t0q[0]
			ev = mEvent{typ: k.kind, name: k.name, content: m.timers[k]}
			m.removeTimer(k)
		case len(m.mailbox) > 0:
			ev, m.mailbox = m.mailbox[0], m.mailbox[1:]
		default:
			return m.log
		}
		m.log = append(m.log, fmt.Sprintf("%d %v", m.state, ev))
		dec := decide(m.seed, m.steps, false)
		m.steps++
		m.transition(&ev, dec)
	}
}

// modelHandler runs the same script on the engine.
type modelHandler struct {
	seed     uint64
	initActs []mAct
	steps    int
	enters   int
	log      []string
}

func (h *modelHandler) Init(context.Context) (int, int, []Action, error) {
	return 0, 0, toActions(h.initActs), nil
}

func (h *modelHandler) HandleEvent(_ context.Context, ev Event, s int, d int) Result[int, int] {
	if ev.Type == Enter {
		h.log = append(h.log, fmt.Sprintf("%d {enter %d}", s, ev.Content))
		dec := decide(h.seed, h.enters, true)
		h.enters++
		return KeepAll[int, int](toActions(dec.acts)...)
	}
	h.log = append(h.log, fmt.Sprintf("%d %v", s, ev))
	dec := decide(h.seed, h.steps, false)
	h.steps++
	acts := toActions(dec.acts)
	switch dec.kind {
	case "next":
		return Next(dec.to, d, acts...)
	case "repeat":
		return RepeatAll[int, int](acts...)
	}
	return KeepAll[int, int](acts...)
}

// TestModel_Random compares engine and model on random scripts.
func TestModel_Random(t *testing.T) {
	total, kinds := 0, map[string]int{}
	for seed := uint64(1); seed <= 120; seed++ {
		enter := seed%2 == 0
		r := rand.New(rand.NewPCG(seed, 1<<40))
		var initActs []mAct
		for _, a := range decide(seed, 1<<30, false).acts {
			if a.kind != "postpone" {
				initActs = append(initActs, a)
			}
		}
		var external []mEvent
		for i := range 3 + r.IntN(8) {
			external = append(external, mEvent{typ: []EventType{Cast, Info}[r.IntN(2)], content: fmt.Sprintf("x%d", i)})
		}
		m := &model{seed: seed, enterCalls: enter, mailbox: external}
		want := m.run(initActs)

		var got []string
		synctest.Test(t, func(t *testing.T) {
			h := &modelHandler{seed: seed, initActs: initActs}
			var opts []Option
			if enter {
				opts = append(opts, WithStateEnter())
			}
			mach := mustStart(t, h, opts...)
			for _, e := range external {
				if e.typ == Cast {
					mach.Cast(e.content)
				} else {
					mach.Send(e.content)
				}
			}
			synctest.Wait()
			st, err := mach.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.Postponed != len(m.postponed) || st.Queue != 0 || len(st.Timeouts) != len(m.timers) {
				t.Errorf("seed %d: status %v; model postponed %d timers %v", seed, st, len(m.postponed), m.timers)
			}
			stop(t, mach)
			got = h.log
		})
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("seed %d (enter=%v): engine and model differ\nengine: %q\nmodel:  %q", seed, enter, got, want)
		}
		total += len(want)
		for _, l := range want {
			for _, k := range []string{"enter", "timeout", "internal"} {
				if strings.Contains(l, k) {
					kinds[k]++
				}
			}
		}
	}
	// Not vacuous: long runs with every kind of event.
	if total < 120*30 || kinds["enter"] < 500 || kinds["timeout"] < 500 || kinds["internal"] < 500 {
		t.Fatalf("runs too short: %d lines, %v", total, kinds)
	}
	t.Logf("%d events compared: %v", total, kinds)
}
