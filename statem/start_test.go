package statem

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type S = string

// idle is a machine that answers "ping" with "pong" and "state" with its
// state, and records its Terminate calls.
func idle(r *recorder) *FuncMachine[S, int] {
	return &FuncMachine[S, int]{
		InitF: initIn[S]("idle", 0),
		Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			switch ev.Content {
			case "ping":
				return KeepAll[S, int](Reply(ev.From, "pong"))
			case "state":
				return KeepAll[S, int](Reply(ev.From, s))
			case "nil":
				return KeepAll[S, int](Reply(ev.From, nil))
			}
			return KeepAll[S, int]()
		},
		TerminateF: func(reason error, s S, d int) {
			if r != nil {
				r.add("terminate %v %v %d", reason, s, d)
			}
		},
	}
}

// start1: anonymous start, call, stop; Terminate runs once with the
// reason; nothing left behind.
func TestStart_Anonymous(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		m := mustStart(t, idle(r))
		if got := call(t, m, "ping"); got != "pong" {
			t.Fatalf("reply %v", got)
		}
		stop(t, m)
		stopped(t, m)
		if m.Err() != nil {
			t.Fatalf("Err = %v", m.Err())
		}
		r.expect(t, "terminate <nil> idle 0")
	})
}

// start2/3: local name; Whereis finds it; already_started carries the
// running machine and Init of the second does not run; the name is free
// the moment the first has ended (start11).
func TestStart_LocalName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		name := "start_local"
		m := mustStart(t, idle(nil), WithName(nil, name))
		p, ok := Whereis(name)
		if !ok || p != Process(m) {
			t.Fatalf("Whereis = %v %v", p, ok)
		}
		initRan := false
		h2 := idle(nil)
		h2.InitF = func(context.Context) (S, int, []Action, error) { initRan = true; return "idle", 0, nil, nil }
		m2, err := Start(context.Background(), h2, WithName(nil, name))
		var ase *AlreadyStartedError
		if !errors.As(err, &ase) || ase.Existing != Process(m) || ase.Name != name || m2 != nil {
			t.Fatalf("second start: %v %v", m2, err)
		}
		if initRan {
			t.Fatal("Init ran for a taken name")
		}
		// The existing machine still works through the registry.
		if v, err := CallAs[string](context.Background(), ase.Existing, "ping"); v != "pong" || err != nil {
			t.Fatalf("call via existing: %v %v", v, err)
		}
		stop(t, m)
		if _, ok := Whereis(name); ok {
			t.Fatal("name still registered after Stop returned")
		}
		m3 := mustStart(t, idle(nil), WithName(nil, name))
		stop(t, m3)
	})
}

// testRegistry is a via-style registry that logs what it is asked.
type testRegistry struct {
	*LocalRegistry
	r *recorder
}

func (g testRegistry) Register(name any, p Process) error {
	err := g.LocalRegistry.Register(name, p)
	g.r.add("register %v %v", name, err == nil)
	return err
}

func (g testRegistry) Unregister(name any, p Process) {
	g.r.add("unregister %v", name)
	g.LocalRegistry.Unregister(name, p)
}

// start4..6: the via form with a pluggable registry: registered before
// Init (Init can find itself), unregistered on every kind of end.
func TestStart_Via(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		reg := testRegistry{NewLocalRegistry(), r}
		h := idle(nil)
		h.InitF = func(context.Context) (S, int, []Action, error) {
			_, ok := reg.Whereis("v")
			r.add("init sees itself %v", ok)
			return "idle", 0, nil, nil
		}
		m := mustStart(t, h, WithName(reg, "v"))
		_, err := Start(context.Background(), idle(nil), WithName(reg, "v"))
		var ase *AlreadyStartedError
		if !errors.As(err, &ase) || ase.Existing != Process(m) {
			t.Fatalf("already started: %v", err)
		}
		stop(t, m)
		if reg.Len() != 0 {
			t.Fatal("via name not released")
		}
		// ignore and init errors release the name too.
		for _, initErr := range []error{ErrIgnore, errors.New("boom")} {
			h := idle(nil)
			h.InitF = func(context.Context) (S, int, []Action, error) { return "", 0, nil, initErr }
			if _, err := Start(context.Background(), h, WithName(reg, "v")); !errors.Is(err, initErr) {
				t.Fatalf("Start: %v, want %v", err, initErr)
			}
			if reg.Len() != 0 {
				t.Fatalf("name kept after %v", initErr)
			}
		}
		r.expect(t,
			"register v true", "init sees itself true",
			"register v false",
			"unregister v",
			"register v true", "unregister v",
			"register v true", "unregister v")
	})
}

// start7/8: Init returns ErrIgnore or an error: Start returns it, no
// machine, Terminate not called, no goroutine left (synctest checks).
func TestStart_IgnoreAndError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		boom := errors.New("boom")
		for _, tc := range []struct {
			initErr, want error
		}{
			{ErrIgnore, ErrIgnore},
			{fmt.Errorf("wrapped: %w", ErrIgnore), ErrIgnore},
			{boom, boom},
		} {
			h := idle(r)
			h.InitF = func(context.Context) (S, int, []Action, error) { return "", 0, nil, tc.initErr }
			m, err := Start(context.Background(), h)
			if m != nil || !errors.Is(err, tc.want) {
				t.Fatalf("Start = %v, %v; want %v", m, err, tc.want)
			}
		}
		r.expect(t) // no Terminate
	})
}

// A panic in Init fails the start with a *PanicError; no Terminate.
func TestStart_InitPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := idle(r)
		h.InitF = func(context.Context) (S, int, []Action, error) { panic("init exploded") }
		_, err := Start(context.Background(), h, WithLogger(discardLogger()), WithName(nil, "init_panic"))
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "init exploded" || len(pe.Stack) == 0 {
			t.Fatalf("Start: %v", err)
		}
		if _, ok := Whereis("init_panic"); ok {
			t.Fatal("name kept")
		}
		r.expect(t)
	})
}

// start3: Init overruns the start time-out: Start returns ErrStartTimeout
// at exactly the time-out; Init's ctx is cancelled; the name stays taken
// until Init returns, then the machine ends without Terminate.
func TestStart_Timeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := idle(r)
		h.InitF = func(ctx context.Context) (S, int, []Action, error) {
			<-ctx.Done()
			r.at("init ctx done: %v", ctx.Err())
			time.Sleep(time.Second) // ignores the cancellation for a while
			r.at("init returns")
			return "idle", 0, nil, nil
		}
		t0 := time.Now()
		m, err := Start(context.Background(), h, WithStartTimeout(100*time.Millisecond), WithName(nil, "slow_init"))
		if m != nil || !errors.Is(err, ErrStartTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start = %v, %v", m, err)
		}
		if d := time.Since(t0); d != 100*time.Millisecond {
			t.Fatalf("Start returned after %v", d)
		}
		p, ok := Whereis("slow_init")
		if !ok {
			t.Fatal("name released while Init still runs")
		}
		<-p.Done()
		if !errors.Is(p.Err(), ErrStartTimeout) {
			t.Fatalf("Err = %v", p.Err())
		}
		if _, ok := Whereis("slow_init"); ok {
			t.Fatal("name kept")
		}
		if err := p.Cast("x"); !errors.Is(err, ErrStopped) {
			t.Fatalf("Cast after end: %v", err)
		}
		r.expect(t, "100ms init ctx done: context deadline exceeded", "1.1s init returns")
	})
}

// The Start ctx's own deadline bounds the start too; a cancelled ctx
// fails the start with context.Canceled.
func TestStart_Context(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := idle(nil)
		h.InitF = func(ctx context.Context) (S, int, []Action, error) {
			<-ctx.Done()
			time.Sleep(time.Second) // returning at once could win the race
			return "idle", 0, nil, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := Start(ctx, h); !errors.Is(err, ErrStartTimeout) {
			t.Fatalf("deadline: %v", err)
		}
		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Millisecond); cancel2() }()
		if _, err := Start(ctx2, h); !errors.Is(err, context.Canceled) || errors.Is(err, ErrStartTimeout) {
			t.Fatalf("cancel: %v", err)
		}
		// A start ctx that ends after a successful start does not affect
		// the machine, but its values reach the callbacks.
		type key struct{}
		ctx3, cancel3 := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
		h3 := idle(nil)
		h3.Any = func(ctx context.Context, ev Event, s S, d int) Result[S, int] {
			return KeepAll[S, int](Reply(ev.From, ctx.Value(key{})))
		}
		m, err := Start(ctx3, h3)
		if err != nil {
			t.Fatal(err)
		}
		cancel3()
		if v := call(t, m, "value"); v != "v" {
			t.Fatalf("ctx value %v", v)
		}
		stop(t, m)
		time.Sleep(2 * time.Second) // let the abandoned Inits return and their machines end
		synctest.Wait()
	})
}

// stop3/start9: operations on an ended machine fail at once with
// ErrStopped (noproc); a second Stop too.
func TestStop_Dead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := mustStart(t, idle(nil))
		stop(t, m)
		ctx := context.Background()
		if err := m.Stop(ctx, nil); !errors.Is(err, ErrStopped) {
			t.Fatalf("Stop: %v", err)
		}
		if _, err := m.Call(ctx, "ping"); !errors.Is(err, ErrStopped) {
			t.Fatalf("Call: %v", err)
		}
		if err := m.Cast("x"); !errors.Is(err, ErrStopped) {
			t.Fatalf("Cast: %v", err)
		}
		if err := m.Send("x"); !errors.Is(err, ErrStopped) {
			t.Fatalf("Send: %v", err)
		}
		if _, _, err := m.GetState(ctx); !errors.Is(err, ErrStopped) {
			t.Fatalf("GetState: %v", err)
		}
		if err := m.Suspend(ctx); !errors.Is(err, ErrStopped) {
			t.Fatalf("Suspend: %v", err)
		}
	})
}

// stop4..6: Stop with a reason: Terminate gets it, Err returns it, a
// non-quiet reason is logged, a quiet one is not.
func TestStop_Reason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, tc := range []struct {
			reason error
			logged bool
		}{
			{nil, false},
			{ErrShutdown, false},
			{fmt.Errorf("%w: going away", ErrShutdown), false},
			{errors.New("custom"), true},
		} {
			r := newRecorder()
			log, buf := bufferLogger()
			m := mustStart(t, idle(r), WithLogger(log))
			if err := m.Stop(context.Background(), tc.reason); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if m.Err() != tc.reason {
				t.Fatalf("Err = %v", m.Err())
			}
			r.expect(t, fmt.Sprintf("terminate %v idle 0", tc.reason))
			if logged := buf.Len() > 0; logged != tc.logged {
				t.Fatalf("reason %v: logged=%v: %s", tc.reason, logged, buf)
			}
		}
	})
}

// Stop while a callback is blocked on its ctx: Stop cancels the ctx so
// the callback returns, then the machine terminates.
func TestStop_CancelsCallbackContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		h := idle(r)
		h.Any = func(ctx context.Context, ev Event, s S, d int) Result[S, int] {
			<-ctx.Done() // a dial that honours ctx
			r.add("callback unblocked")
			return KeepAll[S, int]()
		}
		m := mustStart(t, h)
		m.Cast("block")
		synctest.Wait()
		if err := m.Stop(context.Background(), ErrShutdown); err != nil {
			t.Fatal(err)
		}
		r.expect(t, "callback unblocked", "terminate statem: shutdown idle 0")
	})
}

// Stop gives up when its ctx ends while the machine is busy; the machine
// still stops afterwards.
func TestStop_ContextTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := idle(nil)
		h.Any = func(ctx context.Context, ev Event, s S, d int) Result[S, int] {
			time.Sleep(time.Second) // ignores ctx
			return KeepAll[S, int]()
		}
		m := mustStart(t, h)
		m.Cast("busy")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if err := m.Stop(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop: %v", err)
		}
		<-m.Done()
		if m.Err() != nil {
			t.Fatal(m.Err())
		}
	})
}

// Concurrent Stops: exactly one wins, the others see ErrStopped.
func TestStop_Concurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		m := mustStart(t, idle(r))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = m.Stop(context.Background(), nil) })
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrStopped):
				t.Fatalf("Stop: %v", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d Stops won", wins)
		}
		r.expect(t, "terminate <nil> idle 0")
	})
}

// A Terminate that panics: Stop and Err report the panic.
func TestStop_TerminatePanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := idle(nil)
		h.TerminateF = func(error, S, int) { panic("terminate exploded") }
		m := mustStart(t, h, WithLogger(discardLogger()))
		err := m.Stop(context.Background(), nil)
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Value != "terminate exploded" {
			t.Fatalf("Stop: %v", err)
		}
		if !errors.As(m.Err(), &pe) {
			t.Fatalf("Err: %v", m.Err())
		}
	})
}

// A nil handler is refused.
func TestStart_NilHandler(t *testing.T) {
	if _, err := Start[S, int](context.Background(), nil); err == nil {
		t.Fatal("Start(nil) succeeded")
	}
}

// No timer outlives its machine: every running timer is stopped when the
// machine ends (a stopped timer's Stop reports false).
func TestStop_TimersStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := idle(nil)
		h.InitF = initIn[S]("idle", 0,
			SetEventTimeout(time.Hour, 1), SetStateTimeout(time.Hour, 2),
			SetGenericTimeout("a", time.Hour, 3), SetGenericTimeout("b", 0, 4))
		m := mustStart(t, h)
		var timers []*time.Timer
		if err := m.sys(context.Background(), func() error {
			for _, e := range m.timers {
				if e.t != nil {
					timers = append(timers, e.t)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(timers) != 2 { // the event time-out was cancelled by "b"'s zero time-out
			t.Fatalf("%d timers running", len(timers))
		}
		stop(t, m)
		for i, tm := range timers {
			if tm.Stop() {
				t.Fatalf("timer %d still running after the machine ended", i)
			}
		}
	})
}

// A name that cannot be a map key is refused, not a panic.
func TestStart_BadName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		if _, err := Start(context.Background(), idle(nil), WithName(nil, []int{1})); err == nil {
			t.Fatal("non-comparable name accepted")
		}
	})
}

// A machine found by name while Init runs can already be stopped: the
// stop is handled once the start is complete.
func TestStart_StopDuringInit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		release := make(chan struct{})
		h := idle(r)
		h.InitF = func(context.Context) (S, int, []Action, error) {
			<-release
			return "idle", 1, nil, nil
		}
		started := make(chan error)
		go func() {
			_, err := Start(context.Background(), h, WithName(nil, "stop_during_init"))
			started <- err
		}()
		synctest.Wait()
		p, ok := Whereis("stop_during_init")
		if !ok {
			t.Fatal("not registered during Init")
		}
		stopped := make(chan error)
		go func() { stopped <- p.Stop(context.Background(), nil) }()
		synctest.Wait()
		close(release)
		if err := <-started; err != nil {
			t.Fatal(err)
		}
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		r.expect(t, "terminate <nil> idle 1")
	})
}
