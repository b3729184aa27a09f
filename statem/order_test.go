package statem

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// OTP event_order: casts postponed in start; a call moves to buffer with
// [next_event ok3, next_event ok4, {timeout,0,ok5}, reply]. Order: ok3,
// ok4 (inserted), then ok1, ok2 (retried postponed); the zero event
// time-out never fires (cancelled by those events).
func TestEventOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("start", 0),
			States: map[S]func(context.Context, Event, int) Result[S, int]{
				"start": func(_ context.Context, ev Event, d int) Result[S, int] {
					if ev.Type == Call {
						return Next("buffer", d,
							NextEvent(Internal, "ok3"),
							NextEvent(Internal, "ok4"),
							SetEventTimeout(0, "ok5"),
							Reply(ev.From, "ok"))
					}
					r.add("postpone %v", ev.Content)
					return KeepAll[S, int](Postpone())
				},
				"buffer": func(_ context.Context, ev Event, d int) Result[S, int] {
					r.add("%v %v", ev.Type, ev.Content)
					return KeepAll[S, int]()
				},
			},
		}
		m := mustStart(t, h)
		m.Cast("ok1")
		m.Cast("ok2")
		if v := call(t, m, "buffer"); v != "ok" {
			t.Fatalf("reply %v", v)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		r.expect(t, "postpone ok1", "postpone ok2", "internal ok3", "internal ok4", "cast ok1", "cast ok2")
		stop(t, m)
	})
}

// logState returns a state function that records each event with the
// virtual time, then applies f.
func logState(r *recorder, name S, f func(ev Event, d int) Result[S, int]) func(context.Context, Event, int) Result[S, int] {
	return func(_ context.Context, ev Event, d int) Result[S, int] {
		r.at("%s %v", name, ev)
		return f(ev, d)
	}
}

// OTP state_timeout: a state change cancels the event and state time-outs
// of the previous state; a zero state time-out comes after next_event; a
// zero event time-out is cancelled by a pending zero state time-out;
// several zero time-outs run in order; generic time-outs survive state
// changes; a real state time-out fires on time, after an external info.
func TestStateTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		keep := KeepAll[S, int]
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("start", 0),
			States: map[S]func(context.Context, Event, int) Result[S, int]{
				"start": func(_ context.Context, ev Event, d int) Result[S, int] {
					return Next("s1", d,
						Reply(ev.From, "ok"),
						SetEventTimeout(100*time.Millisecond, "e1"),
						SetStateTimeout(100*time.Millisecond, "s1"),
						SetGenericTimeout("g", 200*time.Millisecond, "g1"),
						NextEvent(Internal, "to2"))
				},
				"s1": logState(r, "s1", func(ev Event, d int) Result[S, int] {
					return Next("s2", d,
						SetStateTimeout(0, "s2zero"),
						SetEventTimeout(0, "e2zero"),
						NextEvent(Internal, "n2"))
				}),
				"s2": logState(r, "s2", func(ev Event, d int) Result[S, int] {
					switch ev.Content {
					case "s2zero":
						return keep(SetStateTimeout(0, "st-a"), SetEventTimeout(0, "ev-b"))
					case "st-a":
						return keep(SetEventTimeout(0, "ev-c"), SetGenericTimeout("x", 0, "gx"), SetStateTimeout(0, "st-d"))
					case "st-d":
						return keep(SetStateTimeout(500*time.Millisecond, "real"))
					case "real":
						return Next("s3", d)
					}
					return keep()
				}),
				"s3": logState(r, "s3", func(ev Event, d int) Result[S, int] { return keep() }),
			},
		}
		m := mustStart(t, h)
		call(t, m, "go")
		time.Sleep(100 * time.Millisecond)
		m.Send("ext")
		time.Sleep(time.Hour)
		r.expect(t,
			"0s s1 {internal to2}",
			"0s s2 {internal n2}",
			"0s s2 {state_timeout s2zero}",
			"0s s2 {state_timeout st-a}",
			"0s s2 {timeout ev-c}",
			"0s s2 {generic_timeout x gx}",
			"0s s2 {state_timeout st-d}",
			"100ms s2 {info ext}",
			"200ms s2 {generic_timeout g g1}",
			"500ms s2 {state_timeout real}",
		)
		stop(t, m)
	})
}

// OTP timeout_cancel_and_update: cancel a state time-out; update keeps
// the expiry and changes the content; update applies to a time-out that
// expired while a callback ran; update of a time-out that is not running
// starts a zero one; Status shows the running time-outs.
func TestTimeoutCancelUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		keep := KeepAll[S, int]
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("s", 0,
				SetEventTimeout(17*time.Second, "e17"),
				SetStateTimeout(time.Second, "st1"),
				SetGenericTimeout("a", 100*time.Millisecond, "a1")),
			States: map[S]func(context.Context, Event, int) Result[S, int]{
				"s": logState(r, "s", func(ev Event, d int) Result[S, int] {
					switch ev.Content {
					case "cancel":
						return keep(CancelTimeout(StateTimeout, nil), UpdateTimeout(GenericTimeout, "a", "a2"))
					case "a2":
						return keep(SetStateTimeout(17*time.Millisecond, "x1"), NextEvent(Internal, "sleep"))
					case "sleep":
						time.Sleep(50 * time.Millisecond) // x1 expires meanwhile
						return keep(UpdateTimeout(StateTimeout, nil, "x2"))
					case "x2":
						return keep(UpdateTimeout(GenericTimeout, "b", "b0"))
					case "b0":
						return keep(UpdateTimeout(EventTimeout, nil, "e0"))
					}
					return keep()
				}),
			},
		}
		m := mustStart(t, h)
		st, err := m.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []TimeoutStatus{
			{EventTimeout, nil, 17 * time.Second, "e17"},
			{StateTimeout, nil, time.Second, "st1"},
			{GenericTimeout, "a", 100 * time.Millisecond, "a1"},
		}
		if !equalTimeouts(st.Timeouts, want) {
			t.Fatalf("timeouts %v, want %v", st.Timeouts, want)
		}
		time.Sleep(50 * time.Millisecond)
		m.Cast("cancel")
		synctest.Wait()
		st, _ = m.Status(context.Background())
		want = []TimeoutStatus{{GenericTimeout, "a", 50 * time.Millisecond, "a2"}}
		if !equalTimeouts(st.Timeouts, want) {
			t.Fatalf("timeouts %v, want %v", st.Timeouts, want)
		}
		time.Sleep(time.Minute)
		r.expect(t,
			"50ms s {cast cancel}",
			"100ms s {generic_timeout a a2}",
			"100ms s {internal sleep}",
			"150ms s {state_timeout x2}",
			"150ms s {generic_timeout b b0}",
			"150ms s {timeout e0}",
		)
		st, _ = m.Status(context.Background())
		if len(st.Timeouts) != 0 {
			t.Fatalf("timeouts left: %v", st.Timeouts)
		}
		stop(t, m)
	})
}

func equalTimeouts(a, b []TimeoutStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// OTP generic_timers: several named timers, absolute and relative;
// Infinity cancels one; re-setting restarts with the new content (the old
// expiry is never delivered); the last of several actions on the same
// name wins; an absolute deadline in the past fires at once.
func TestGenericTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		t0 := time.Now()
		keep := KeepAll[S, int]
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("s", 0,
				SetGenericTimeout("a", 100*time.Millisecond, "a1"),
				GenericTimeoutAt("b", t0.Add(200*time.Millisecond), "b1"),
				GenericTimeoutAt("c", t0.Add(300*time.Millisecond), "c1"),
				SetGenericTimeout("d", 400*time.Millisecond, "d1"),
				GenericTimeoutAt("p", t0.Add(-time.Second), "past")),
			States: map[S]func(context.Context, Event, int) Result[S, int]{
				"s": logState(r, "s", func(ev Event, d int) Result[S, int] {
					if ev.Content == "change" {
						return keep(
							SetGenericTimeout("b", Infinity, nil),
							SetGenericTimeout("a", 100*time.Millisecond, "a2"),
							CancelTimeout(GenericTimeout, "d"),
							SetGenericTimeout("e", 10*time.Millisecond, "e1"),
							SetGenericTimeout("e", 20*time.Millisecond, "e2"),
							// other kinds with the same name are separate
							SetStateTimeout(260*time.Millisecond, "st"),
							CancelTimeout(GenericTimeout, "st"))
					}
					return keep()
				}),
			},
		}
		m := mustStart(t, h)
		time.Sleep(50 * time.Millisecond)
		m.Cast("change")
		time.Sleep(time.Hour)
		r.expect(t,
			"0s s {generic_timeout p past}",
			"50ms s {cast change}",
			"70ms s {generic_timeout e e2}",
			"150ms s {generic_timeout a a2}",
			"300ms s {generic_timeout c c1}",
			"310ms s {state_timeout st}",
		)
		stop(t, m)
	})
}

// OTP event_types: NextEvent inserts every event type, including a call
// answered to the original caller, in list order.
func TestEventTypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("start", 0),
			States: map[S]func(context.Context, Event, int) Result[S, int]{
				"start": func(_ context.Context, ev Event, d int) Result[S, int] {
					return Next("s", d,
						NextEvent(Internal, 1),
						NextEvent(StateTimeout, 2),
						NextCall(ev.From, 3),
						NextEvent(Info, 4),
						NextEvent(Cast, 5),
						NextEvent(EventTimeout, 6),
						NextGenericTimeout("n", 7))
				},
				"s": func(_ context.Context, ev Event, d int) Result[S, int] {
					r.add("%v", ev)
					if ev.Type == Call {
						return KeepAll[S, int](Reply(ev.From, "answered from the inserted call"))
					}
					return KeepAll[S, int]()
				},
			},
		}
		m := mustStart(t, h)
		if v := call(t, m, "go"); v != "answered from the inserted call" {
			t.Fatalf("reply %v", v)
		}
		synctest.Wait()
		r.expect(t,
			"{internal 1}", "{state_timeout 2}", "{call 3}", "{info 4}",
			"{cast 5}", "{timeout 6}", "{generic_timeout n 7}")
		stop(t, m)
	})
}

// enterData is the data of the state_enter test.
type enterData struct {
	n    int
	from From
}

// OTP state_enter: the enter call for the initial state has old == new;
// Repeat re-enters with old == new; an enter call may reply and set zero
// time-outs; it may Repeat itself (bounded by data); an event inserted by
// the transition arrives after the new state's enter call.
func TestStateEnter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		type R = Result[S, enterData]
		keep := KeepAll[S, enterData]
		h := &FuncMachine[S, enterData]{
			InitF: initIn[S]("start", enterData{}),
			Any: func(_ context.Context, ev Event, s S, d enterData) R {
				r.add("%s %v n=%d", s, ev, d.n)
				switch {
				case s == "start" && ev.Type == Enter:
					return keep()
				case s == "start" && ev.Content == "repeat":
					d.n++
					return Repeat[S](d, Reply(ev.From, "repeated"))
				case s == "start" && ev.Content == "go":
					d.from = ev.From
					return Next("next", d, NextEvent(Internal, "after-enter"))
				case s == "next" && ev.Type == Enter:
					return keep(Reply(d.from, "from-enter"),
						SetEventTimeout(0, "et0"), SetStateTimeout(0, "st0"))
				case s == "next" && ev.Content == "st0":
					d.n = 0
					return Next("loop", d)
				case s == "loop" && ev.Type == Enter:
					if d.n < 3 {
						d.n++
						return Repeat[S](d)
					}
					return Keep[S](d)
				}
				return keep()
			},
		}
		m := mustStart(t, h, WithStateEnter())
		if v := call(t, m, "repeat"); v != "repeated" {
			t.Fatal(v)
		}
		if v := call(t, m, "go"); v != "from-enter" {
			t.Fatal(v)
		}
		synctest.Wait()
		r.expect(t,
			"start {enter start} n=0",
			"start {call repeat} n=0",
			"start {enter start} n=1",
			"start {call go} n=1",
			"next {enter start} n=1",
			"next {internal after-enter} n=1",
			"next {state_timeout st0} n=1",
			"loop {enter next} n=0",
			"loop {enter next} n=1",
			"loop {enter next} n=2",
			"loop {enter next} n=3",
		)
		s, d, err := m.GetState(context.Background())
		if s != "loop" || d.n != 3 || err != nil {
			t.Fatalf("GetState = %v %v %v", s, d, err)
		}
		if c := m.Counters(); c.Enters != 7 || c.StateChanges != 2 {
			t.Fatalf("counters %+v", c)
		}
		stop(t, m)
	})
}
