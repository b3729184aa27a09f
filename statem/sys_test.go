package statem

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// OTP sys1: while suspended calls block, casts and expiring time-outs wait
// in order; GetState, ReplaceState, Status, Resume and Stop still work.
func TestSys_SuspendBlocksCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := idle(nil)
		h.InitF = initIn[S]("idle", 0, SetGenericTimeout("g", 100*time.Millisecond, "tick"))
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			r.at("%v", ev)
			if ev.Type == Call {
				return Keep[S](d+1, Reply(ev.From, d+1))
			}
			return Keep[S](d + 1)
		}
		m := mustStart(t, h)
		ctx := context.Background()
		if err := m.Suspend(ctx); err != nil {
			t.Fatal(err)
		}
		m.Cast("c1")
		done := make(chan any)
		go func() { v, _ := m.Call(ctx, "blocked"); done <- v }()
		synctest.Wait()
		m.Send("i1")
		time.Sleep(time.Second) // the generic time-out expires meanwhile
		select {
		case v := <-done:
			t.Fatalf("call returned %v while suspended", v)
		default:
		}
		s, d, err := m.GetState(ctx)
		if s != "idle" || d != 0 || err != nil {
			t.Fatalf("GetState = %v %v %v", s, d, err)
		}
		st, err := m.Status(ctx)
		if err != nil || !st.Suspended || st.Queue != 4 || len(st.Timeouts) != 1 || st.Timeouts[0].Remaining != 0 {
			t.Fatalf("Status = %+v %v", st, err)
		}
		if err := m.Suspend(ctx); err != nil { // idempotent
			t.Fatal(err)
		}
		if err := m.ReplaceState(ctx, func(s S, d int) (S, int) { return "replaced", 10 }); err != nil {
			t.Fatal(err)
		}
		r.expect(t)
		if err := m.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		if v := <-done; v != 12 {
			t.Fatalf("call after resume = %v", v)
		}
		synctest.Wait()
		r.expect(t, "1s {cast c1}", "1s {call blocked}", "1s {info i1}", "1s {generic_timeout g tick}")
		if s, d, _ := m.GetState(ctx); s != "replaced" || d != 14 {
			t.Fatalf("state %v %v", s, d)
		}
		if err := m.Resume(ctx); err != nil { // resuming a running machine
			t.Fatal(err)
		}
		// Stop works while suspended.
		m.Suspend(ctx)
		m.Cast("never handled")
		stop(t, m)
		r.expect(t)
	})
}

// Suspend takes effect only after the inserted events (system messages
// are handled at receive, as in OTP).
func TestSys_SuspendAfterQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := idle(nil)
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			r.add("%v", ev)
			if ev.Content == "go" {
				time.Sleep(time.Millisecond) // Suspend arrives meanwhile
				return KeepAll[S, int](NextEvent(Internal, 1), NextEvent(Internal, 2))
			}
			return KeepAll[S, int]()
		}
		m := mustStart(t, h)
		m.Cast("go")
		m.Suspend(context.Background())
		m.Cast("held")
		synctest.Wait()
		r.expect(t, "{cast go}", "{internal 1}", "{internal 2}")
		m.Resume(context.Background())
		synctest.Wait()
		r.expect(t, "{cast held}")
		stop(t, m)
	})
}

// A ReplaceState whose function panics leaves the machine as it was.
func TestSys_ReplaceStatePanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := mustStart(t, idle(nil))
		err := m.ReplaceState(context.Background(), func(S, int) (S, int) { panic("no") })
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("ReplaceState = %v", err)
		}
		if v := call(t, m, "state"); v != "idle" {
			t.Fatal(v)
		}
		stop(t, m)
	})
}

// A system request whose ctx ends first returns ctx.Err().
func TestSys_ContextTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := idle(nil)
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			time.Sleep(time.Second)
			return KeepAll[S, int]()
		}
		m := mustStart(t, h)
		m.Cast("busy")
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		if _, _, err := m.GetState(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("GetState = %v", err)
		}
		stop(t, m)
	})
}

// secretHandler hides its data through FormatStatus.
type secretHandler struct {
	*FuncMachine[S, string]
	panics bool
}

func (h secretHandler) FormatStatus(st Status[S, string]) Status[S, string] {
	if h.panics {
		panic("formatter broken")
	}
	st.Data = strings.Repeat("*", len(st.Data))
	return st
}

// Status: state, data through FormatStatus, queue, postponed count,
// running time-outs with remaining time and content, name. The crash log
// uses FormatStatus too; a panicking formatter hides state and data.
func TestSys_Status(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fm := &FuncMachine[S, string]{
			InitF: initIn[S]("locked", "hunter2",
				SetEventTimeout(17*time.Second, "e"),
				SetGenericTimeout("g", time.Minute, "gc"),
				SetStateTimeout(time.Hour, "s")),
			Any: func(_ context.Context, ev Event, s S, d string) Result[S, string] {
				switch ev.Content {
				case "crash":
					return Result[S, string]{}
				}
				return KeepAll[S, string](Postpone())
			},
		}
		m := mustStart(t, secretHandler{FuncMachine: fm}, WithName(nil, "status_test"))
		ctx := context.Background()
		st, err := m.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Name != "status_test" || st.State != "locked" || st.Data != "*******" || st.Queue != 0 || st.Postponed != 0 || st.Suspended {
			t.Fatalf("status %+v", st)
		}
		want := []TimeoutStatus{
			{EventTimeout, nil, 17 * time.Second, "e"},
			{StateTimeout, nil, time.Hour, "s"},
			{GenericTimeout, "g", time.Minute, "gc"},
		}
		if !equalTimeouts(st.Timeouts, want) {
			t.Fatalf("timeouts %v", st.Timeouts)
		}
		m.Cast("p1")
		m.Cast("p2")
		time.Sleep(time.Second)
		// The casts cancelled the event time-out and were postponed.
		st, _ = m.Status(ctx)
		if st.Queue != 0 || st.Postponed != 2 || len(st.Timeouts) != 2 || st.Timeouts[1].Remaining != time.Minute-time.Second {
			t.Fatalf("status %v", st)
		}
		if s := st.String(); !strings.Contains(s, "state=locked queue=0 postponed=2") || strings.Contains(s, "hunter2") {
			t.Fatalf("String() = %s", s)
		}
		log, buf := bufferLogger()
		m.opts.logger = log // before the crash, on the test goroutine: the machine reads it only when ending
		synctest.Wait()
		m.Cast("crash")
		<-m.Done()
		if out := buf.String(); strings.Contains(out, "hunter2") || !strings.Contains(out, "state=locked") {
			t.Fatalf("crash log %s", out)
		}

		m = mustStart(t, secretHandler{FuncMachine: fm, panics: true})
		st, err = m.Status(ctx)
		if err != nil || st.State != "" || st.Data != "" || len(st.Timeouts) != 3 {
			t.Fatalf("status with panicking formatter %+v %v", st, err)
		}
		stop(t, m)
	})
}

// The tracer sees every event, enter call, postpone, transition, reply
// action (not From.Reply) and the termination, in order.
func TestSys_Tracer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := &FuncMachine[S, int]{
			InitF: initIn[S]("a", 0),
			Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
				switch {
				case ev.Type == Enter:
					return KeepAll[S, int]()
				case ev.Content == "p":
					return KeepAll[S, int](Postpone())
				case ev.Type == Call:
					ev.From.Reply("direct")
					return Next[S]("b", d, Reply(ev.From, "action"))
				}
				return Stop[S](errors.New("done"), d)
			},
		}
		m := mustStart(t, h, WithStateEnter(), r.tracer(), WithLogger(discardLogger()))
		m.Cast("p")
		if v := call(t, m, "go"); v != "direct" {
			t.Fatal(v)
		}
		m.Cast("end")
		<-m.Done()
		r.expect(t,
			"event {enter a} a",
			"event {cast p} a",
			"transition {cast p} a -> a",
			"postpone {cast p} a",
			"event {call go} a",
			"reply action",
			"event {enter a} b",
			"transition {call go} a -> b",
			"event {cast p} b",
			"transition {cast p} b -> b",
			"postpone {cast p} b",
			"event {cast end} b",
			"terminate b done",
		)
		c := m.Counters()
		want := Counters{Events: 4, Enters: 2, StateChanges: 1, Postponed: 2, Replies: 1, Timeouts: 0, Received: 3}
		if c != want {
			t.Fatalf("counters %+v, want %+v", c, want)
		}
	})
}

// WithLog keeps the last n trace events: Status shows them and the crash
// log includes them; a user tracer still sees everything.
func TestSys_Log(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := idle(nil)
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			if ev.Content == "crash" {
				return Result[S, int]{}
			}
			return Keep[S](d + 1)
		}
		log, buf := bufferLogger()
		m := mustStart(t, h, WithLog(3), r.tracer(), WithLogger(log))
		for _, c := range []string{"a", "b", "c"} {
			m.Cast(c)
		}
		st, err := m.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, te := range st.Log {
			got = append(got, te.String())
		}
		want := []string{"transition {cast b} idle -> idle", "event {cast c} idle", "transition {cast c} idle -> idle"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("log %q, want %q", got, want)
		}
		if n := len(r.take()); n != 6 {
			t.Fatalf("user tracer saw %d events, want 6", n)
		}
		m.Cast("crash")
		<-m.Done()
		if out := buf.String(); !strings.Contains(out, "event {cast crash} idle") || !strings.Contains(out, "transition {cast c} idle -> idle") {
			t.Fatalf("crash log without the trace log: %s", out)
		}
	})
}
