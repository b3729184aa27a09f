package statem

import (
	"context"
	"errors"
	"fmt"
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

// state_enter, as in the OTP suite. Messages the OTP machine sends (or
// replies it addresses) to the test process are recorded lines here.
func TestOTP_StateEnter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		type R = Result[string, int]
		h := &FuncMachine[string, int]{
			InitF: initIn("start", 1),
			States: map[string]func(context.Context, Event, int) R{
				"start": func(_ context.Context, ev Event, n int) R {
					switch {
					case ev.Type == Enter:
						r.add("%d enter start %v", n, ev.Content)
						return Keep[string](n + 1)
					case ev.Type == Internal:
						r.add("%d internal start %v", n, ev.Content)
						return Keep[string](n + 1)
					case ev.Content == "repeat":
						return Repeat[string](n+1, Reply(ev.From, fmt.Sprintf("%d repeat start", n)))
					case ev.Content == "echo":
						return Next("wait", n+1, Reply(ev.From, fmt.Sprintf("%d echo start", n)), SetEventTimeout(0, n))
					case ev.Content == "stop":
						return StopAndReply[string](errors.New("bye"), n+1, Reply(ev.From, fmt.Sprintf("%d stop", n)))
					}
					t.Errorf("start: unexpected %v", ev)
					return KeepAll[string, int]()
				},
				"wait": func(_ context.Context, ev Event, n int) R {
					switch {
					case ev.Type == Enter && n < 5:
						r.add("%d {enter %v}", n, ev.Content)
						return Repeat[string](n+1, SetEventTimeout(0, n), SetStateTimeout(0, n))
					case ev.Type == Enter:
						r.add("%d enter wait %v", n, ev.Content)
						return Keep[string](n+1, SetEventTimeout(0, n), SetStateTimeout(0, n))
					case ev.Type == EventTimeout || ev.Type == StateTimeout:
						r.add("%d {%v %v}", n, ev.Type, ev.Content)
						return Keep[string](n + 1)
					case ev.Content == "repeat":
						return RepeatAll[string, int](Reply(ev.From, fmt.Sprintf("%d repeat wait", n)), SetEventTimeout(0, n))
					case ev.Content == "echo":
						return Next("start", n+1, NextEvent(Internal, "wait"), Reply(ev.From, fmt.Sprintf("%d echo wait", n)))
					}
					t.Errorf("wait: unexpected %v", ev)
					return KeepAll[string, int]()
				},
			},
		}
		m := mustStart(t, h, WithStateEnter(), WithLogger(discardLogger()))
		synctest.Wait()
		r.expect(t, "1 enter start start")
		if v := call(t, m, "echo"); v != "2 echo start" {
			t.Fatal(v)
		}
		synctest.Wait()
		r.expect(t, "3 {enter start}", "4 {enter start}", "5 enter wait start", "6 {timeout 5}", "7 {state_timeout 5}")
		if s, n, _ := m.GetState(context.Background()); s != "wait" || n != 8 {
			t.Fatalf("state %v %v", s, n)
		}
		if v := call(t, m, "repeat"); v != "8 repeat wait" {
			t.Fatal(v)
		}
		synctest.Wait()
		r.expect(t, "8 enter wait wait", "9 {timeout 8}", "10 {state_timeout 8}")
		if v := call(t, m, "echo"); v != "11 echo wait" {
			t.Fatal(v)
		}
		synctest.Wait()
		r.expect(t, "12 enter start wait", "13 internal start wait")
		if v := call(t, m, "repeat"); v != "14 repeat start" {
			t.Fatal(v)
		}
		synctest.Wait()
		r.expect(t, "15 enter start start")
		if v := call(t, m, "stop"); v != "16 stop" {
			t.Fatal(v)
		}
		<-m.Done()
		if m.Err() == nil || m.Err().Error() != "bye" {
			t.Fatal(m.Err())
		}
		if _, err := m.Call(context.Background(), "hej"); !errors.Is(err, ErrStopped) {
			t.Fatal(err)
		}
	})
}

// stop_and_reply, as in the OTP suite: a reply kept in the data and a new
// one, delivered in order before the exit.
func TestOTP_StopAndReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &FuncMachine[string, Action]{
			InitF: initIn("start", Action{}),
			States: map[string]func(context.Context, Event, Action) Result[string, Action]{
				"start": func(_ context.Context, ev Event, _ Action) Result[string, Action] {
					return Next("wait", Reply(ev.From, "reply1"))
				},
				"wait": func(_ context.Context, ev Event, r1 Action) Result[string, Action] {
					return StopAndReply[string](errors.New("reason"), r1, r1, Reply(ev.From, "reply2"))
				},
			},
		}
		r := newRecorder()
		m := mustStart(t, h, WithLogger(discardLogger()), r.tracer())
		got1, got2 := make(chan any, 1), make(chan any, 1)
		go func() { v, _ := m.Call(context.Background(), "echo"); got1 <- v }()
		synctest.Wait()
		go func() { v, _ := m.Call(context.Background(), "stop_and_reply"); got2 <- v }()
		<-m.Done()
		if a, b := <-got1, <-got2; a != "reply1" || b != "reply2" {
			t.Fatalf("replies %v %v", a, b)
		}
		r.expect(t,
			"event {call echo} start", "transition {call echo} start -> wait",
			"event {call stop_and_reply} wait", "reply reply1", "reply reply2",
			"terminate wait reason")
		if m.Err().Error() != "reason" {
			t.Fatal(m.Err())
		}
	})
}
