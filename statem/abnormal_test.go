package statem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// crashWith starts a machine whose handler answers a call "crash" with
// result, and checks the caller, Err, Terminate and the log.
func crashWith(t *testing.T, result func(ev Event) Result[S, int], opts ...Option) (lines []string, logged string, reason error) {
	t.Helper()
	r := newRecorder()
	h := idle(r)
	h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
		if ev.Content == "crash" {
			return result(ev)
		}
		return KeepAll[S, int]()
	}
	log, buf := bufferLogger()
	m := mustStart(t, h, append(opts, WithLogger(log))...)
	_, err := m.Call(context.Background(), "crash")
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("caller got %v, want ErrStopped", err)
	}
	stopped(t, m)
	if !errors.Is(err, m.Err()) {
		t.Fatalf("caller error %v does not carry the exit reason %v", err, m.Err())
	}
	return r.take(), buf.String(), m.Err()
}

// OTP abnormal2..4: a bad result, a bad action, a bad time-out action or a
// panic stop the machine: Terminate runs with the error, the caller gets
// ErrStopped carrying it, and it is logged.
func TestAbnormal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result func(ev Event) Result[S, int]
		want   string
	}{
		{"bad result", func(Event) Result[S, int] { return Result[S, int]{} }, "invalid (zero) Result"},
		{"bad action", func(Event) Result[S, int] { return KeepAll[S, int](Action{}) }, "invalid (zero) Action at index 0"},
		{"bad timeout action", func(Event) Result[S, int] { return KeepAll[S, int](CancelTimeout(Cast, nil)) }, "time-out action with invalid type cast"},
		{"bad next event", func(Event) Result[S, int] { return KeepAll[S, int](NextEvent(Enter, nil)) }, "NextEvent with invalid event type enter"},
		{"bad stop_and_reply", func(Event) Result[S, int] { return StopAndReply[S](nil, 0, Postpone()) }, "StopAndReply with a non-reply action at index 0"},
		{"panic", func(Event) Result[S, int] { panic("handler exploded") }, "handler exploded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lines, logged, reason := crashWith(t, tc.result)
				if !strings.Contains(reason.Error(), tc.want) {
					t.Fatalf("reason %v, want %q", reason, tc.want)
				}
				var bre *BadResultError
				var pe *PanicError
				switch {
				case errors.As(reason, &pe):
					if tc.name != "panic" || !strings.Contains(string(pe.Stack), "abnormal_test.go") {
						t.Fatalf("panic error %v, stack:\n%s", pe, pe.Stack)
					}
				case errors.As(reason, &bre):
					if bre.State != "idle" || bre.Event.Type != Call || bre.Event.Content != "crash" {
						t.Fatalf("bad result error %+v", bre)
					}
				default:
					t.Fatalf("reason %T", reason)
				}
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "terminate "+reason.Error()+" idle") {
					t.Fatalf("terminate calls %q", lines)
				}
				if !strings.Contains(logged, "statem: machine terminated") {
					t.Fatalf("not logged: %q", logged)
				}
			})
		})
	}
}

// A panic with an error value unwraps to it.
func TestAbnormal_PanicError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		_, _, reason := crashWith(t, func(Event) Result[S, int] { panic(boom) })
		if !errors.Is(reason, boom) {
			t.Fatalf("reason %v does not wrap the panic value", reason)
		}
	})
}

// OTP shutdown: {stop, {shutdown, reason}}: quiet (not logged), Err
// carries it, a later call fails with ErrStopped.
func TestShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reason := fmt.Errorf("%w: maintenance", ErrShutdown)
		lines, logged, got := crashWith(t, func(Event) Result[S, int] { return Stop[S](reason, 7) })
		if got != reason || !IsQuiet(got) {
			t.Fatalf("reason %v", got)
		}
		if logged != "" {
			t.Fatalf("quiet reason logged: %s", logged)
		}
		if len(lines) != 1 || lines[0] != "terminate statem: shutdown: maintenance idle 7" {
			t.Fatalf("terminate %q", lines)
		}
		if IsQuiet(errors.New("x")) || !IsQuiet(nil) || !IsQuiet(ErrShutdown) {
			t.Fatal("IsQuiet")
		}
	})
}

// OTP stop_and_reply: replies are delivered in order, before Terminate
// runs and before Done closes.
func TestStopAndReply_Order(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, []From]{
			InitF: initIn[S]("s", []From(nil)),
			Any: func(_ context.Context, ev Event, s S, d []From) Result[S, []From] {
				d = append(d, ev.From)
				if ev.Content == "last" {
					return StopAndReply[S](nil, d, Reply(d[0], "reply1"), Reply(d[1], "reply2"))
				}
				return Keep[S](d)
			},
			TerminateF: func(reason error, s S, d []From) { r.add("terminate %v %d", reason, len(d)) },
		}
		m := mustStart(t, h, r.tracer())
		ctx := context.Background()
		got := make(chan string, 2)
		go func() {
			v, err := m.Call(ctx, "first")
			got <- fmt.Sprintf("%v %v", v, err)
		}()
		synctest.Wait()
		if v, err := m.Call(ctx, "last"); v != "reply2" || err != nil {
			t.Fatalf("last call: %v %v", v, err)
		}
		<-m.Done()
		if v := <-got; v != "reply1 <nil>" {
			t.Fatalf("first call: %v", v)
		}
		r.expect(t,
			"event {call first} s",
			"transition {call first} s -> s",
			"event {call last} s",
			"reply reply1",
			"reply reply2",
			"terminate s <nil>",
			"terminate <nil> 2")
	})
}

// OTP reply_then_terminate: StopAndReply sends the replies in order up to
// the first action that is not a reply, and only then fails with a bad
// result; the replies after it are never sent (those callers see the
// machine stop), and Terminate runs once, after the replies.
func TestStopAndReply_RepliesBeforeBadAction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, []From]{
			InitF: initIn[S]("s", []From(nil)),
			Any: func(_ context.Context, ev Event, s S, d []From) Result[S, []From] {
				d = append(d, ev.From)
				if len(d) == 3 {
					return StopAndReply[S](nil, d, Reply(d[0], "reply1"), ReplyError(d[1], errors.New("reply2")),
						Postpone(), Reply(d[2], "never"))
				}
				return Keep[S](d)
			},
			TerminateF: func(reason error, s S, d []From) { r.add("terminate %v %d", reason, len(d)) },
		}
		m := mustStart(t, h, r.tracer(), WithLogger(discardLogger()))
		ctx := context.Background()
		got := make(chan string, 2)
		for _, req := range []string{"first", "second"} {
			go func() {
				v, err := m.Call(ctx, req)
				got <- fmt.Sprintf("%s: %v %v", req, v, err)
			}()
			synctest.Wait()
		}
		_, err := m.Call(ctx, "third")
		<-m.Done()
		var bre *BadResultError
		if !errors.As(m.Err(), &bre) || bre.Reason != "StopAndReply with a non-reply action at index 2" {
			t.Fatalf("Err = %v", m.Err())
		}
		if !errors.Is(err, ErrStopped) || !errors.Is(err, m.Err()) {
			t.Fatalf("third call (its reply came after the bad action): %v", err)
		}
		answers := []string{<-got, <-got}
		slices.Sort(answers)
		if answers[0] != "first: reply1 <nil>" || answers[1] != "second: <nil> reply2" {
			t.Fatalf("replies before the bad action: %q", answers)
		}
		r.expect(t,
			"event {call first} s",
			"transition {call first} s -> s",
			"event {call second} s",
			"transition {call second} s -> s",
			"event {call third} s",
			"reply reply1",
			"reply error reply2",
			"terminate s "+m.Err().Error(),
			"terminate "+m.Err().Error()+" 3")
	})
}

// Enter-call restrictions: a state change, a postpone or a next event
// from an enter call stop the machine with a *BadResultError.
func TestEnter_BadResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  Result[S, int]
		want string
	}{
		{"state change", Next[S]("elsewhere", 0), "state change to elsewhere from a state enter call"},
		{"postpone", KeepAll[S, int](Postpone()), "Postpone from a state enter call"},
		{"next event", KeepAll[S, int](NextEvent(Internal, 1)), "NextEvent from a state enter call"},
		{"zero result", Result[S, int]{}, "invalid (zero) Result"},
		{"zero action", KeepAll[S, int](Hibernate(), Action{}), "invalid (zero) Action at index 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRecorder()
				h := idle(r)
				h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
					switch {
					case ev.Type == Enter && s == "next":
						return tc.res
					case ev.Type == Call:
						return Next[S]("next", 5, Reply(ev.From, "moving"))
					}
					return KeepAll[S, int]()
				}
				m := mustStart(t, h, WithStateEnter(), WithLogger(discardLogger()))
				if v := call(t, m, "go"); v != "moving" {
					t.Fatal(v)
				}
				<-m.Done()
				var bre *BadResultError
				if !errors.As(m.Err(), &bre) || bre.Reason != tc.want || bre.State != "next" || bre.Event.Type != Enter || bre.Event.Content != "idle" {
					t.Fatalf("Err = %#v", m.Err())
				}
				r.expect(t, "terminate "+m.Err().Error()+" next 5")
			})
		})
	}
}

// Stop from an enter call is allowed; StopAndReply from an enter call
// replies first.
func TestEnter_Stop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, From]{
			InitF: initIn[S]("a", From{}),
			Any: func(_ context.Context, ev Event, s S, d From) Result[S, From] {
				switch {
				case ev.Type == Enter && s == "b":
					return StopAndReply[S](ErrShutdown, d, Reply(d, "bye"))
				case ev.Type == Call:
					return Next[S]("b", ev.From)
				}
				return KeepAll[S, From]()
			},
			TerminateF: func(reason error, s S, d From) { r.add("terminate %v %v", reason, s) },
		}
		m := mustStart(t, h, WithStateEnter())
		if v := call(t, m, "go"); v != "bye" {
			t.Fatal(v)
		}
		<-m.Done()
		r.expect(t, "terminate statem: shutdown b")
	})
}

// StateFuncs: an event in a state without a function is a bad result;
// TerminateFunc runs.
func TestStateFuncs_MissingState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		sf := StateFuncs[S, int]{
			InitFunc: func(context.Context) (S, int, []Action, error) { return "a", 1, nil, nil },
			States: map[S]StateFunc[S, int]{
				"a": func(_ context.Context, ev Event, d int) Result[S, int] { return Next[S]("nowhere", d) },
			},
			TerminateFunc: func(reason error, s S, d int) { r.add("terminate %v", reason) },
		}
		m := mustStart(t, sf, WithLogger(discardLogger()))
		m.Cast("go")
		m.Cast("again")
		<-m.Done()
		var bre *BadResultError
		if !errors.As(m.Err(), &bre) || bre.State != "nowhere" {
			t.Fatalf("Err = %v", m.Err())
		}
		r.expect(t, "terminate "+m.Err().Error())
		if _, err := Start(context.Background(), StateFuncs[S, int]{}); err == nil {
			t.Fatal("StateFuncs without InitFunc started")
		}
	})
}

// Actions from Init: next events first, time-outs run, postpone is
// ignored, replies are sent; an invalid action crashes after the start.
func TestInit_Actions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("s", 0,
				Postpone(),
				SetStateTimeout(time.Second, "st"),
				NextEvent(Internal, "n1"),
				NextEvent(Internal, "n2"),
				Reply(From{}, "nobody")),
			Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
				r.at("%v", ev)
				return KeepAll[S, int]()
			},
		}
		m := mustStart(t, h)
		m.Cast("external")
		time.Sleep(time.Hour)
		r.expect(t, "0s {internal n1}", "0s {internal n2}", "0s {cast external}", "1s {state_timeout st}")
		if c := m.Counters(); c.Postponed != 0 || c.Events != 4 || c.Timeouts != 1 || c.Received != 1 || c.Replies != 1 {
			t.Fatalf("counters %+v", c)
		}
		stop(t, m)

		h.InitF = initIn[S]("s", 0, Action{})
		m = mustStart(t, h, WithLogger(discardLogger()))
		<-m.Done()
		var bre *BadResultError
		if !errors.As(m.Err(), &bre) {
			t.Fatalf("Err = %v", m.Err())
		}
	})
}
