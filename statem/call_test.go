package statem

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// slowReplier answers "slow" one second later, from a time-out, and
// records whether the reply was delivered.
func slowReplier(r *recorder) *FuncMachine[S, int] {
	return &FuncMachine[S, int]{
		InitF: initIn[S]("s", 0),
		Any: func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			switch ev.Type {
			case Call:
				if ev.Content == "fast" {
					return KeepAll[S, int](Reply(ev.From, "fast"))
				}
				// one timer per caller: several slow calls may be pending
				return KeepAll[S, int](SetGenericTimeout(ev.From, time.Second, ev.From))
			case GenericTimeout:
				r.at("late reply delivered: %v", ev.Content.(From).Reply("slow"))
			}
			return KeepAll[S, int]()
		},
	}
}

// OTP abnormal1: a call with a 10 ms deadline on a reply that comes after
// one second times out; the late reply is dropped (From.Reply reports
// false); the machine keeps working; nothing leaks (synctest).
func TestCall_Timeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		m := mustStart(t, slowReplier(r))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		v, err := m.Call(ctx, "slow")
		if v != nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) != 10*time.Millisecond {
			t.Fatalf("Call = %v, %v after %v", v, err, time.Since(t0))
		}
		time.Sleep(2 * time.Second)
		r.expect(t, "1s late reply delivered: false")
		if v := call(t, m, "fast"); v != "fast" {
			t.Fatalf("next call got %v", v)
		}
		stop(t, m)
	})
}

// A reply that arrives in time is delivered, From.Reply reports true.
func TestCall_SlowReplyInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		m := mustStart(t, slowReplier(r))
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if v, err := m.Call(ctx, "slow"); v != "slow" || err != nil {
			t.Fatalf("Call = %v, %v", v, err)
		}
		synctest.Wait() // the handler records after replying
		r.expect(t, "1s late reply delivered: true")
		stop(t, m)
	})
}

// A call on a machine that ends before answering fails with an
// *ExitError carrying the reason; a call after the end fails at once.
func TestCall_Stopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := mustStart(t, slowReplier(newRecorder()), WithLogger(discardLogger()))
		reason := errors.New("gone")
		go func() {
			time.Sleep(100 * time.Millisecond)
			m.Stop(context.Background(), reason)
		}()
		_, err := m.Call(context.Background(), "slow")
		var ee *ExitError
		if !errors.Is(err, ErrStopped) || !errors.As(err, &ee) || ee.Reason != reason || !errors.Is(err, reason) {
			t.Fatalf("Call = %v", err)
		}
		<-m.Done()
		t0 := time.Now()
		if _, err := m.Call(context.Background(), "fast"); !errors.Is(err, ErrStopped) || time.Since(t0) != 0 {
			t.Fatalf("Call after end = %v", err)
		}
	})
}

// A reply from another goroutine, and from a later state.
func TestReply_FromElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		h := &FuncMachine[S, []From]{
			InitF: initIn[S]("collect", []From(nil)),
			States: map[S]func(context.Context, Event, []From) Result[S, []From]{
				"collect": func(_ context.Context, ev Event, d []From) Result[S, []From] {
					switch ev.Content {
					case "goroutine":
						wg.Go(func() {
							time.Sleep(time.Millisecond)
							if !ev.From.Reply("from goroutine") {
								t.Error("reply not delivered")
							}
							if ev.From.Reply("twice") {
								t.Error("second reply delivered")
							}
						})
						return KeepAll[S, []From]()
					case "later":
						return Keep[S](append(d, ev.From))
					case "flush":
						return Next("answer", d, Reply(ev.From, "flushed"))
					}
					return KeepAll[S, []From]()
				},
			},
			Any: func(_ context.Context, ev Event, s S, d []From) Result[S, []From] {
				return KeepAll[S, []From]()
			},
		}
		// answer every stored caller when entering "answer"
		m := mustStart(t, &enterReplier{h}, WithStateEnter())
		ctx := context.Background()
		if v, err := m.Call(ctx, "goroutine"); v != "from goroutine" || err != nil {
			t.Fatalf("goroutine reply %v %v", v, err)
		}
		res := make(chan any, 2)
		for range 2 {
			go func() { v, _ := m.Call(ctx, "later"); res <- v }()
		}
		synctest.Wait()
		if v := call(t, m, "flush"); v != "flushed" {
			t.Fatal(v)
		}
		for range 2 {
			if v := <-res; v != "answered in a later state" {
				t.Fatalf("later reply %v", v)
			}
		}
		wg.Wait()
		stop(t, m)
		var zero From
		if !zero.IsZero() || zero.Reply(1) || zero.ReplyError(errors.New("x")) {
			t.Fatal("zero From accepted a reply")
		}
	})
}

// enterReplier wraps a FuncMachine and answers stored callers from the
// enter call of state "answer".
type enterReplier struct{ *FuncMachine[S, []From] }

func (e *enterReplier) HandleEvent(ctx context.Context, ev Event, s S, d []From) Result[S, []From] {
	if ev.Type == Enter && s == "answer" {
		acts := make([]Action, len(d))
		for i, f := range d {
			acts[i] = Reply(f, "answered in a later state")
		}
		return Keep[S, []From](nil, acts...)
	}
	if ev.Type == Enter {
		return KeepAll[S, []From]()
	}
	return e.FuncMachine.HandleEvent(ctx, ev, s, d)
}

// ReplyError makes Call return the error.
func TestReply_Error(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := errors.New("bad request")
		h := idle(nil)
		h.Any = func(_ context.Context, ev Event, s S, d int) Result[S, int] {
			return KeepAll[S, int](ReplyError(ev.From, bad))
		}
		m := mustStart(t, h)
		if v, err := m.Call(context.Background(), "x"); v != nil || err != bad {
			t.Fatalf("Call = %v, %v", v, err)
		}
		ev := Event{}
		if ev.From.ReplyError(bad) {
			t.Fatal("zero From")
		}
		stop(t, m)
	})
}

// A machine calling itself (with its callback's ctx) gets ErrCalledSelf
// instead of a deadlock; so do Stop and the system requests, also by name
// from Init.
func TestCall_Self(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRecorder()
		var self *Machine[S, int]
		h := idle(nil)
		h.InitF = func(ctx context.Context) (S, int, []Action, error) {
			p, _ := Whereis("selfcaller")
			_, err := p.Call(ctx, "x")
			r.add("init call: %v", err)
			return "s", 0, nil, nil
		}
		h.Any = func(ctx context.Context, ev Event, s S, d int) Result[S, int] {
			_, err := self.Call(ctx, "x")
			r.add("call: %v", err)
			r.add("stop: %v", self.Stop(ctx, nil))
			_, _, err = self.GetState(ctx)
			r.add("get state: %v", err)
			return KeepAll[S, int]()
		}
		self = mustStart(t, h, WithName(nil, "selfcaller"))
		self.Cast("go")
		synctest.Wait()
		r.expect(t,
			"init call: statem: machine called itself",
			"call: statem: machine called itself",
			"stop: statem: machine called itself",
			"get state: statem: machine called itself")
		stop(t, self)
	})
}

// CallAs converts the reply, and reports a type mismatch.
func TestCallAs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := mustStart(t, idle(nil))
		ctx := context.Background()
		if s, err := CallAs[string](ctx, m, "ping"); s != "pong" || err != nil {
			t.Fatal(s, err)
		}
		if n, err := CallAs[int](ctx, m, "ping"); n != 0 || err == nil {
			t.Fatal(n, err)
		}
		if n, err := CallAs[int](ctx, m, "nil"); err != nil || n != 0 {
			t.Fatal(n, err)
		}
		stop(t, m)
	})
}
