package statem

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Absolute deadlines for the event and state time-outs.
func TestAbsoluteTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		t0 := time.Now()
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("s", 0,
				EventTimeoutAt(t0.Add(time.Second), "ev"),
				StateTimeoutAt(t0.Add(2*time.Second), "st")),
			Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
				r.at("%v", ev)
				return KeepAll[S, int]()
			},
		}
		m := mustStart(t, h)
		time.Sleep(time.Hour)
		r.expect(t, "1s {timeout ev}", "2s {state_timeout st}")
		stop(t, m)
	})
}

// A panic in an enter call: Terminate sees the state being entered and
// the data given to the enter call.
func TestEnter_Panic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := idle(r)
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			switch {
			case ev.Type == Enter && s == "next":
				panic("enter exploded")
			case ev.Type == Cast:
				return Next[S]("next", 9)
			}
			return KeepAll[S, int]()
		}
		m := mustStart(t, h, WithStateEnter(), WithLogger(discardLogger()))
		m.Cast("go")
		<-m.Done()
		var pe *PanicError
		if !errors.As(m.Err(), &pe) || pe.Value != "enter exploded" {
			t.Fatalf("Err = %v", m.Err())
		}
		r.expect(t, "terminate statem: callback panicked: enter exploded next 9")
	})
}

// Terminate that calls its own machine does not deadlock: the mailbox is
// closed, so the call fails at once with the exit reason.
func TestTerminate_CallsItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		var m *Machine[S, int]
		h := idle(nil)
		h.TerminateF = func(reason error, s S, d int) {
			_, err := m.Call(context.Background(), "ping")
			r.add("call: %v %v", errors.Is(err, ErrStopped), errors.Is(err, ErrShutdown))
			r.add("cast: %v", m.Cast("x"))
			r.add("err before done: %v", m.Err())
		}
		m = mustStart(t, h)
		if err := m.Stop(context.Background(), ErrShutdown); err != nil {
			t.Fatal(err)
		}
		r.expect(t, "call: true true", "cast: statem: machine stopped", "err before done: <nil>")
	})
}

// Error strings name what they are about.
func TestErrorStrings(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&AlreadyStartedError{Name: "n"}, "name n already started"},
		{&ExitError{}, "statem: machine stopped"},
		{&ExitError{Reason: errors.New("r")}, "statem: machine stopped: r"},
		{&BadResultError{State: "s", Event: Event{Type: Cast, Content: 1}, Reason: "why"}, "bad result in state s for event {cast 1}: why"},
		{&PanicError{Value: "v"}, "callback panicked: v"},
	} {
		if !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%q does not contain %q", tc.err.Error(), tc.want)
		}
	}
	if s := EventType(99).String(); s != "EventType(99)" {
		t.Error(s)
	}
	if s := TraceKind(99).String(); s != "TraceKind(99)" {
		t.Error(s)
	}
	ts := TimeoutStatus{Type: GenericTimeout, Name: "g", Remaining: time.Second, Content: 1}
	if s := ts.String(); s != "{generic_timeout g 1s 1}" {
		t.Error(s)
	}
	te := TraceEvent{Kind: TraceReply, ReplyErr: errors.New("e")}
	if s := te.String(); s != "reply error e" {
		t.Error(s)
	}
}

// A Call with a context that has already ended sends nothing; the zero
// LocalRegistry works.
func TestCall_DoneContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reg LocalRegistry
		m := mustStart(t, idle(nil), WithName(&reg, "zero"), newRecorder().tracer())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := m.Call(ctx, "ping"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Call = %v", err)
		}
		synctest.Wait()
		if c := m.Counters(); c.Received != 0 {
			t.Fatalf("a call was sent: %+v", c)
		}
		if p, ok := reg.Whereis("zero"); !ok || p != Process(m) {
			t.Fatal("zero registry lost the name")
		}
		stop(t, m)
	})
}

// Many goroutines cast and call at once: every message arrives exactly
// once and each sender's messages keep their order (the mailbox is FIFO
// per sender), across many chunk boundaries.
func TestMailbox_ConcurrentSenders(t *testing.T) {
	const senders, each = 8, 1000
	type msg struct{ from, seq int }
	h := &FuncMachine[S, []int]{
		InitF: initIn[S]("s", make([]int, senders)),
		Any: func(_ context.Context, ev Event, s S, next []int) Result[S, []int] {
			switch c := ev.Content.(type) {
			case msg:
				if c.seq != next[c.from] {
					return Stop[S](fmt.Errorf("sender %d: got %d, want %d", c.from, c.seq, next[c.from]), next)
				}
				next[c.from]++
				if ev.Type == Call {
					return KeepAll[S, []int](Reply(ev.From, c.seq))
				}
			case string:
				total := 0
				for _, n := range next {
					total += n
				}
				return KeepAll[S, []int](Reply(ev.From, total))
			}
			return KeepAll[S, []int]()
		},
	}
	m := mustStart(t, h)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				if j%100 == 99 {
					if v, err := m.Call(context.Background(), msg{i, j}); err != nil || v != j {
						t.Errorf("call %d/%d: %v %v", i, j, v, err)
						return
					}
					continue
				}
				if err := m.Cast(msg{i, j}); err != nil {
					t.Errorf("cast: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v := call(t, m, "total"); v != senders*each {
		t.Fatalf("total %v, want %d (machine: %v)", v, senders*each, m.Err())
	}
	stop(t, m)
}

// panickyRegistry panics on Unregister.
type panickyRegistry struct{ *LocalRegistry }

func (panickyRegistry) Unregister(any, Process) { panic("registry broken") }

// User code that panics on the way out (tracer, registry) cannot keep the
// machine from ending.
func TestFinish_PanickingHooks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tracer := WithTracer(func(te TraceEvent) {
			if te.Kind == TraceTerminate {
				panic("tracer broken")
			}
		})
		m := mustStart(t, idle(nil), tracer, WithName(panickyRegistry{NewLocalRegistry()}, "x"))
		stop(t, m)
		stopped(t, m)
	})
}
