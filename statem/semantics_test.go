package statem

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// Postponed events are retried only on a state change, oldest first; not
// on Keep, KeepAll, Repeat or Next to the same state, nor when only the
// data changes.
func TestPostpone_RetriedOnStateChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		type R = Result[S, int]
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("a", 0),
			Any: func(_ context.Context, ev Event, s S, d int) R {
				if ev.Type == Enter {
					return KeepAll[S, int]()
				}
				r.add("%s %v", s, ev.Content)
				switch ev.Content {
				case "keep":
					return Keep[S](d + 1)
				case "keepall":
					return KeepAll[S, int]()
				case "repeat":
					return Repeat[S](d + 1)
				case "same":
					return Next(s, d+1)
				case "to b":
					return Next[S]("b", d)
				case "to a":
					return Next[S]("a", d)
				}
				if s == "a" {
					return KeepAll[S, int](Postpone())
				}
				return KeepAll[S, int]()
			},
		}
		m := mustStart(t, h, WithStateEnter())
		for _, c := range []string{"p1", "p2", "keep", "keepall", "repeat", "same", "p3", "to b"} {
			m.Cast(c)
		}
		synctest.Wait()
		r.expect(t, "a p1", "a p2", "a keep", "a keepall", "a repeat", "a same", "a p3", "a to b",
			"b p1", "b p2", "b p3")
		// Postponed again in b? No: b handles them. Postpone in a again,
		// then go back to b via a: retried after every state change.
		m.Cast("to a")
		m.Cast("x1")
		m.Cast("to b")
		synctest.Wait()
		r.expect(t, "b to a", "a x1", "a to b", "b x1")
		if c := m.Counters(); c.Postponed != 4 || c.StateChanges != 3 {
			t.Fatalf("counters %+v", c)
		}
		stop(t, m)
	})
}

// On a state change the queue becomes: the transition's inserted events,
// then the retried postponed ones (oldest first), then what was queued
// before, then zero time-outs, then messages not yet received.
func TestPostpone_OrderWithQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("a", 0),
			Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
				r.add("%s %v", s, ev)
				switch {
				case ev.Content == "go":
					return KeepAll[S, int](NextEvent(Internal, "q1"), NextEvent(Internal, "switch"), NextEvent(Internal, "q2"))
				case ev.Content == "switch":
					return Next[S]("b", d, NextEvent(Internal, "n"), SetStateTimeout(0, "st"))
				case s == "a":
					return KeepAll[S, int](Postpone())
				}
				return KeepAll[S, int]()
			},
		}
		m := mustStart(t, h)
		m.Cast("p")
		m.Cast("go")
		m.Cast("later")
		synctest.Wait()
		r.expect(t,
			"a {cast p}", "a {cast go}", "a {internal q1}", "a {internal switch}",
			"b {internal n}", "b {cast p}", "b {internal q1}", "b {internal q2}",
			"b {state_timeout st}", "b {cast later}")
		stop(t, m)
	})
}

// The event time-out fires when no event arrives in time; any event
// (external, inserted, retried, zero time-out) cancels it; a zero one
// fires only if nothing is queued, but before later external messages.
func TestEventTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		keep := KeepAll[S, int]
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("s", 0, SetEventTimeout(100*time.Millisecond, "idle1")),
			Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
				r.at("%v", ev)
				switch ev.Content {
				case "idle1":
					return keep(SetEventTimeout(100*time.Millisecond, "cancelled by cast"))
				case "c1":
					return keep(SetEventTimeout(100*time.Millisecond, "cancelled by insert"), NextEvent(Internal, "i1"))
				case "i1":
					return keep(SetEventTimeout(0, "zero, queue empty"))
				case "zero, queue empty":
					return keep(SetGenericTimeout("g", 0, "g0"), SetEventTimeout(0, "zero, cancelled by g0"))
				case "g0":
					return keep(SetEventTimeout(50*time.Millisecond, "e50"))
				case "first":
					return keep(SetEventTimeout(0, "before second"))
				}
				return keep()
			},
		}
		m := mustStart(t, h)
		time.Sleep(150 * time.Millisecond)
		m.Cast("c1")
		time.Sleep(time.Second)
		m.Cast("first")
		m.Cast("second")
		synctest.Wait()
		r.expect(t,
			"100ms {timeout idle1}",
			"150ms {cast c1}",
			"150ms {internal i1}",
			"150ms {timeout zero, queue empty}",
			"150ms {generic_timeout g g0}",
			"200ms {timeout e50}",
			"1.15s {cast first}",
			"1.15s {timeout before second}",
			"1.15s {cast second}",
		)
		stop(t, m)
	})
}

// The state time-out: set in a state change it belongs to the new state;
// restarted by setting it again; cancelled by Infinity; delivered only in
// the state it was set for even if it expired before the state change was
// processed (stale message dropped).
func TestStateTimeout_Stale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		keep := KeepAll[S, int]
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("a", 0, SetStateTimeout(10*time.Millisecond, "a-timeout")),
			Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
				r.at("%s %v", s, ev)
				switch ev.Content {
				case "slow":
					time.Sleep(time.Second) // a-timeout expires and is posted meanwhile
					return Next[S]("b", d, SetStateTimeout(100*time.Millisecond, "b1"))
				case "restart":
					return keep(SetStateTimeout(100*time.Millisecond, "b2"))
				case "b2":
					return keep(SetStateTimeout(100*time.Millisecond, "b3"), SetStateTimeout(Infinity, "ignored"))
				}
				return keep()
			},
		}
		m := mustStart(t, h)
		m.Cast("slow")
		time.Sleep(1050 * time.Millisecond)
		m.Cast("restart")
		time.Sleep(time.Hour)
		r.expect(t,
			"0s a {cast slow}",
			"1.05s b {cast restart}",
			"1.15s b {state_timeout b2}",
		)
		stop(t, m)
	})
}

// Result forms: Next, Keep, KeepAll, Repeat, RepeatAll change data and
// state as documented.
func TestResult_Forms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("s", 0),
			Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
				switch ev.Content {
				case "next":
					return Next[S]("t", 1)
				case "keep":
					return Keep[S](2)
				case "keepall":
					return KeepAll[S, int]()
				case "repeat":
					return Repeat[S](3)
				case "repeatall":
					return RepeatAll[S, int](Hibernate())
				}
				return KeepAll[S, int]()
			},
		}
		m := mustStart(t, h)
		ctx := context.Background()
		for _, step := range []struct {
			msg  string
			s    S
			data int
		}{{"next", "t", 1}, {"keep", "t", 2}, {"keepall", "t", 2}, {"repeat", "t", 3}, {"repeatall", "t", 3}} {
			m.Cast(step.msg)
			s, d, err := m.GetState(ctx)
			if s != step.s || d != step.data || err != nil {
				t.Fatalf("after %s: %v %v %v", step.msg, s, d, err)
			}
		}
		stop(t, m)
	})
}
