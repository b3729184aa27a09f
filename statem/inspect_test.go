package statem

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Inspect renders state, queue, time-outs with their remaining time and
// the log (oldest first, the ring wrapped), all as text.
func TestInspect_Snapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := idle(nil)
		h.InitF = initIn[S]("idle", 0, SetGenericTimeout("retry", 10*time.Second, 7))
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			if ev.Type == Call {
				return Next[S]("busy", d+1, Reply(ev.From, d+1), SetStateTimeout(3*time.Second, "late"))
			}
			return Keep[S](d + 1)
		}
		m := mustStart(t, h, WithLog(3), WithName(NewLocalRegistry(), "inspected"))
		defer stop(t, m)
		ctx := context.Background()
		m.Cast("a")
		m.Cast(errors.New("boom"))
		call(t, m, struct{ x []byte }{})
		time.Sleep(time.Second)
		snap, err := m.Inspect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Name != `"inspected"` || snap.State != `"busy"` || snap.Queue != 0 || snap.Counters.Events != 3 {
			t.Fatalf("snapshot %+v", snap)
		}
		want := []TimeoutSnapshot{
			{Type: "state_timeout", Remaining: 2 * time.Second, Content: `"late"`},
			{Type: "generic_timeout", Name: `"retry"`, Remaining: 9 * time.Second, Content: "7"},
		}
		if len(snap.Timeouts) != 2 || snap.Timeouts[0] != want[0] || snap.Timeouts[1] != want[1] {
			t.Fatalf("time-outs %+v, want %+v", snap.Timeouts, want)
		}
		// 3 events: 3 handle + 3 transition + 1 reply trace events; the
		// last 3 are kept, oldest first.
		wantLog := []string{
			`event {call struct { x []uint8 }} "idle"`,
			`reply 3`,
			`transition {call struct { x []uint8 }} "idle" -> "busy"`,
		}
		if strings.Join(snap.Log, "\n") != strings.Join(wantLog, "\n") {
			t.Fatalf("log\n%s\nwant\n%s", strings.Join(snap.Log, "\n"), strings.Join(wantLog, "\n"))
		}
	})
}

// The ring keeps the same order as the old shifting log did.
func TestInspect_LogRingOrder(t *testing.T) {
	h := idle(nil)
	h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] { return Keep[S](d + 1) }
	m := mustStart(t, h, WithLog(4))
	defer stop(t, m)
	for _, c := range []string{"1", "2", "3", "4", "5"} {
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
	want := []string{
		`event {cast 4} idle`, `transition {cast 4} idle -> idle`,
		`event {cast 5} idle`, `transition {cast 5} idle -> idle`,
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("log %q, want %q", got, want)
	}
}

// Watch switches a tracer on while running, beside WithTracer; unwatch
// switches it off and gives the machine its own tracer back.
func TestWatch_OnAndOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newRecorder()
		h := idle(nil)
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] { return Keep[S](d + 1) }
		m := mustStart(t, h, base.tracer())
		ctx := context.Background()
		m.Cast("before")
		w1, w2 := newRecorder(), newRecorder()
		un1, err := m.Watch(ctx, func(te TraceEvent) { w1.add("%s", te.Summary()) })
		if err != nil {
			t.Fatal(err)
		}
		un2, err := m.Watch(ctx, func(te TraceEvent) { w2.add("%s", te.Summary()) })
		if err != nil {
			t.Fatal(err)
		}
		m.Cast("both")
		synctest.Wait()
		un1()
		un1() // twice is fine
		m.Cast("second only")
		synctest.Wait()
		un2()
		m.Cast("after")
		synctest.Wait()
		w1.expect(t, `event {cast "both"} "idle"`, `transition {cast "both"} "idle" -> "idle"`)
		w2.expect(t, `event {cast "both"} "idle"`, `transition {cast "both"} "idle" -> "idle"`,
			`event {cast "second only"} "idle"`, `transition {cast "second only"} "idle" -> "idle"`)
		if got := len(base.take()); got != 8 {
			t.Fatalf("base tracer saw %d trace events, want 8", got)
		}
		_, _, _ = m.GetState(ctx) // the removals have run
		if _, err := m.sysWatchState(ctx); err != nil {
			t.Fatal(err)
		}
		stop(t, m)
		if _, err := m.Watch(ctx, func(TraceEvent) {}); err == nil {
			t.Fatal("Watch on an ended machine succeeded")
		}
	})
}

// sysWatchState checks, on the machine's goroutine, that no watcher is
// left and the original tracer is back.
func (m *Machine[S, D]) sysWatchState(ctx context.Context) (bool, error) {
	var ok bool
	err := m.sys(ctx, func() error {
		if m.watch != nil {
			return errors.New("watchers left after every unwatch")
		}
		ok = m.opts.tracer != nil
		return nil
	})
	return ok, err
}

// A watcher sees the termination too; the machine's end needs no unwatch.
func TestWatch_SeesTerminate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := mustStart(t, idle(nil))
		r := newRecorder()
		unwatch, err := m.Watch(context.Background(), func(te TraceEvent) { r.add("%s", te.Summary()) })
		if err != nil {
			t.Fatal(err)
		}
		stop(t, m)
		r.expect(t, `terminate "idle" `)
		unwatch() // after the end: harmless
	})
}

func TestDescribe_Bounded(t *testing.T) {
	long := strings.Repeat("é", 400)
	type big [1 << 16]byte
	var nilErr *PanicError
	cases := []struct {
		v    any
		want string
	}{
		{nil, ""},
		{42, "42"},
		{uint8(7), "7"},
		{2.5, "2.5"},
		{true, "true"},
		{"hi", `"hi"`},
		{Cast, "cast"},
		{errors.New("e"), "e"},
		{&big{}, "*statem.big"},
		{big{}, "statem.big"},
		{struct{}{}, "struct {}{}"},
		{error(nilErr), "*statem.PanicError"},
	}
	for _, c := range cases {
		if got := Describe(c.v); got != c.want {
			t.Errorf("Describe(%T) = %q, want %q", c.v, got, c.want)
		}
	}
	if got := Describe(long); len(got) > DescribeLimit || !strings.HasSuffix(got, "…") {
		t.Errorf("long string: %d bytes %q", len(got), got)
	}
}
