package statem

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// Step by step ports of gen_statem_SUITE test cases: the same machines,
// the same action lists, the same expected orders (checked through the
// tracer instead of messages to the test process).

// otpMachine builds a machine from closures per state (map_statem); an
// event no closure expects is a test failure.
type otpFunc = func(ctx context.Context, ev Event, d any) Result[string, any]

type otpMachine struct {
	t      *testing.T
	init   func() (string, any, []Action)
	states map[string]otpFunc
	self   *Machine[string, any]
}

func (o *otpMachine) Init(context.Context) (string, any, []Action, error) {
	s, d, a := o.init()
	return s, d, a, nil
}

func (o *otpMachine) HandleEvent(ctx context.Context, ev Event, s string, d any) Result[string, any] {
	return o.states[s](ctx, ev, d)
}

// handled returns the (state, event) pairs the tracer saw handled.
func handled(r *recorder) Option {
	return WithTracer(func(te TraceEvent) {
		if te.Kind == TraceHandle {
			r.at("%v %v", te.State, te.Event)
		}
	})
}

// state_timeout, as in the OTP suite.
func TestOTP_StateTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		type goData struct {
			time time.Duration
			from From
		}
		o := &otpMachine{t: t}
		o.init = func() (string, any, []Action) { return "start", 0, nil }
		o.states = map[string]otpFunc{
			"start": func(_ context.Context, ev Event, d any) Result[string, any] {
				o.self.Send("message_to_self")
				// internal events go before external ones
				return Next[string, any]("state1", goData{ev.Content.(time.Duration), ev.From},
					SetEventTimeout(ev.Content.(time.Duration), 1),
					SetStateTimeout(ev.Content.(time.Duration), 1),
					NextEvent(Internal, 1))
			},
			"state1": func(_ context.Context, ev Event, d any) Result[string, any] {
				// a state change cancels both time-outs 1
				return Next[string, any]("state2", d,
					SetEventTimeout(0, 2), SetStateTimeout(0, 2), NextEvent(Internal, 2))
			},
			"state2": func(_ context.Context, ev Event, d any) Result[string, any] {
				switch {
				case ev.Type == Internal && ev.Content == 2:
					// the zero state time-out comes after next_event, and
					// the zero event time-out is cancelled by it
					return Keep[string, any](d, SetEventTimeout(0, 3))
				case ev.Type == StateTimeout && ev.Content == 2:
					// zero time-outs run in order
					return Keep[string, any](d, SetEventTimeout(0, 4), SetStateTimeout(0, 5))
				case ev.Type == EventTimeout && ev.Content == 4:
					// a zero state time-out can be restarted and cancels
					// the zero event time-out
					return Keep[string, any](d, SetStateTimeout(0, 6), SetEventTimeout(0, 7))
				case ev.Type == StateTimeout && ev.Content == 6:
					g := d.(goData)
					return Next[string, any]("state3", 6, Reply(g.from, "ok"), SetStateTimeout(g.time, 8))
				}
				t.Errorf("state2: unexpected %v", ev)
				return KeepAll[string, any]()
			},
			"state3": func(_ context.Context, ev Event, d any) Result[string, any] {
				switch {
				case ev.Type == Info && ev.Content == "message_to_self" && d == 6:
					return Keep[string, any](7)
				case ev.Type == Call && ev.Content == "check" && d == 7:
					return Keep[string, any](ev.From)
				case ev.Type == StateTimeout && ev.Content == 8:
					return StopAndReply[string, any](nil, d, Reply(d.(From), "ok"))
				}
				t.Errorf("state3: unexpected %v", ev)
				return KeepAll[string, any]()
			},
		}
		m := mustStart[string, any](t, o, handled(r))
		o.self = m
		if v := call(t, m, 500*time.Millisecond); v != "ok" {
			t.Fatal(v)
		}
		if v := call(t, m, "check"); v != "ok" {
			t.Fatal(v)
		}
		<-m.Done()
		r.expect(t,
			"0s start {call 500ms}",
			"0s state1 {internal 1}",
			"0s state2 {internal 2}",
			"0s state2 {state_timeout 2}",
			"0s state2 {timeout 4}",
			"0s state2 {state_timeout 6}",
			"0s state3 {info message_to_self}",
			"0s state3 {call check}",
			"500ms state3 {state_timeout 8}")
	})
}

// timeout_cancel_and_update, as in the OTP suite.
func TestOTP_TimeoutCancelAndUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		o := &otpMachine{t: t}
		o.init = func() (string, any, []Action) { return "start", 0, nil }
		ms := time.Millisecond
		o.states = map[string]otpFunc{
			"start": func(_ context.Context, ev Event, d any) Result[string, any] {
				o.self.Send("message_to_self")
				return Next[string, any]("state1", ev.From, SetStateTimeout(17*ms, 1), NextEvent(Internal, 1))
			},
			"state1": func(_ context.Context, ev Event, d any) Result[string, any] {
				switch {
				case ev.Type == Internal:
					return KeepAll[string, any](CancelTimeout(StateTimeout, nil), SetGenericTimeout("a", 17*ms, 1))
				case ev.Type == Info:
					return KeepAll[string, any](UpdateTimeout(GenericTimeout, "a", "a"))
				case ev.Type == GenericTimeout && ev.Name == "a" && ev.Content == "a":
					return Next[string, any]("state2", d, SetStateTimeout(17*ms, 2), NextEvent(Internal, 2))
				}
				t.Errorf("state1: unexpected %v", ev)
				return KeepAll[string, any]()
			},
			"state2": func(_ context.Context, ev Event, d any) Result[string, any] {
				switch {
				case ev.Type == Internal:
					time.Sleep(50 * ms) // the state time-out 17 expires meanwhile
					return KeepAll[string, any](UpdateTimeout(StateTimeout, nil, "b"), SetEventTimeout(17*ms, 2))
				case ev.Type == StateTimeout && ev.Content == "b":
					return Next[string, any]("state3", 3, Reply(d.(From), "ok"), SetEventTimeout(17000*ms, 17000))
				}
				t.Errorf("state2: unexpected %v", ev)
				return KeepAll[string, any]()
			},
			"state3": func(_ context.Context, ev Event, d any) Result[string, any] {
				if ev.Type == Call && ev.Content == "stop" && d == 3 {
					return StopAndReply[string, any](nil, d, Reply(ev.From, "ok"))
				}
				t.Errorf("state3: unexpected %v", ev)
				return KeepAll[string, any]()
			},
		}
		m := mustStart[string, any](t, o, handled(r))
		o.self = m
		if v := call(t, m, "test"); v != "ok" {
			t.Fatal(v)
		}
		st, err := m.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := []TimeoutStatus{{Type: EventTimeout, Remaining: 17 * time.Second, Content: 17000}}
		if !equalTimeouts(st.Timeouts, want) {
			t.Fatalf("Time-outs %v, want %v", st.Timeouts, want)
		}
		if v := call(t, m, "stop"); v != "ok" {
			t.Fatal(v)
		}
		<-m.Done()
		r.expect(t,
			"0s start {call test}",
			"0s state1 {internal 1}",
			"0s state1 {info message_to_self}",
			"17ms state1 {generic_timeout a a}",
			"17ms state2 {internal 2}",
			"67ms state2 {state_timeout b}",
			"67ms state3 {call stop}")
	})
}

// event_types, as in the OTP suite: next_event accepts every event type.
func TestOTP_EventTypes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		o := &otpMachine{t: t}
		o.init = func() (string, any, []Action) { return "start1", nil, []Action{NextEvent(Internal, 0)} }
		step := func(typ EventType, content any, next string) otpFunc {
			return func(_ context.Context, ev Event, d any) Result[string, any] {
				if ev.Type != typ || ev.Content != content {
					t.Errorf("unexpected %v", ev)
				}
				return Next[string, any](next, d)
			}
		}
		o.states = map[string]otpFunc{
			"start1": step(Internal, 0, "start2"),
			"start2": func(_ context.Context, ev Event, d any) Result[string, any] {
				return Next[string, any]("state1", d,
					NextEvent(Internal, 1),
					NextEvent(StateTimeout, 2),
					NextEvent(EventTimeout, 3),
					NextEvent(Info, 4),
					NextEvent(Cast, 5),
					NextGenericTimeout(6, 6),
					NextCall(ev.From, ev.Content))
			},
			"state1": step(Internal, 1, "state2"),
			"state2": step(StateTimeout, 2, "state3"),
			"state3": step(EventTimeout, 3, "state4"),
			"state4": step(Info, 4, "state5"),
			"state5": step(Cast, 5, "state6"),
			"state6": func(_ context.Context, ev Event, d any) Result[string, any] {
				if ev.Type != GenericTimeout || ev.Name != 6 || ev.Content != 6 {
					t.Errorf("unexpected %v", ev)
				}
				return Next[string, any]("state7", d)
			},
			"state7": func(_ context.Context, ev Event, d any) Result[string, any] {
				return StopAndReply[string, any](ErrShutdown, d, Reply(ev.From, "stopped"))
			},
		}
		m := mustStart[string, any](t, o, handled(r))
		if v := call(t, m, "stop"); v != "stopped" {
			t.Fatal(v)
		}
		<-m.Done()
		if m.Err() != ErrShutdown {
			t.Fatal(m.Err())
		}
		if _, err := m.Call(context.Background(), "hej"); !errors.Is(err, ErrStopped) {
			t.Fatal(err)
		}
		r.expect(t,
			"0s start1 {internal 0}", "0s start2 {call stop}", "0s state1 {internal 1}",
			"0s state2 {state_timeout 2}", "0s state3 {timeout 3}", "0s state4 {info 4}",
			"0s state5 {cast 5}", "0s state6 {generic_timeout 6 6}", "0s state7 {call stop}")
	})
}

// generic_timers, as in the OTP suite: several named timers, absolute and
// relative, infinity cancels b, re-setting a restarts it with a new
// content (here the inserted call, answered when a fires).
func TestOTP_GenericTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		o := &otpMachine{t: t}
		ms := time.Millisecond
		o.init = func() (string, any, []Action) { return "start", nil, nil }
		o.states = map[string]otpFunc{
			"start": func(_ context.Context, ev Event, d any) Result[string, any] {
				return Next[string, any]("state1", d,
					SetGenericTimeout("a", 1500*ms, 1),
					SetStateTimeout(1500*ms, 1),
					SetGenericTimeout("b", 1000*ms, 1),
					NextCall(ev.From, ev.Content))
			},
			"state1": func(_ context.Context, ev Event, d any) Result[string, any] {
				at := time.Now().Add(500 * ms)
				return Next[string, any]("state2", d,
					GenericTimeoutAt("c", at, 2),
					SetGenericTimeout("d", 0, 2),
					SetEventTimeout(0, 2),
					SetGenericTimeout("b", Infinity, 2),
					SetGenericTimeout("a", 1000*ms, ev))
			},
			"state2": func(_ context.Context, ev Event, d any) Result[string, any] {
				if ev.Type != GenericTimeout || ev.Name != "d" {
					t.Errorf("state2: unexpected %v", ev)
				}
				return Next[string, any]("state3", d)
			},
			"state3": func(_ context.Context, ev Event, d any) Result[string, any] {
				if ev.Type != GenericTimeout || ev.Name != "c" {
					t.Errorf("state3: unexpected %v", ev)
				}
				return Next[string, any]("state4", d)
			},
			"state4": func(_ context.Context, ev Event, d any) Result[string, any] {
				call, ok := ev.Content.(Event)
				if ev.Type != GenericTimeout || ev.Name != "a" || !ok || call.Content != "stop" {
					t.Errorf("state4: unexpected %v", ev)
				}
				return StopAndReply[string, any](ErrShutdown, d, Reply(call.From, "stopped"))
			},
		}
		m := mustStart[string, any](t, o, handled(r))
		t0 := time.Now()
		if v := call(t, m, "stop"); v != "stopped" || time.Since(t0) != time.Second {
			t.Fatalf("reply %v after %v", v, time.Since(t0))
		}
		<-m.Done()
		r.expect(t,
			"0s start {call stop}",
			"0s state1 {call stop}",
			"0s state2 {generic_timeout d 2}",
			"500ms state3 {generic_timeout c 2}",
			"1s state4 {generic_timeout a {call stop}}")
	})
}
