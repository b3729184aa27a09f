package acceptor_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
)

// acceptor_pool_SUITE "accept": sequential clients are each echoed, and
// every hand-off starts exactly one replacement, on every listener.
func TestPool_Accept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{ID: "echo", New: acceptor.Func(echo)})
		l1, l2 := newMemListener("l1"), newMemListener("l2")
		mustAdd(t, p, l1, 2)
		mustAdd(t, p, l2, 3)
		synctest.Wait()
		if n := mustCount(t, p); n != (acceptor.Counts{Specs: 1, Active: 0, Acceptors: 5, Workers: 5}) {
			t.Fatalf("counts before = %+v", n)
		}
		for i, l := range []*memListener{l1, l1, l1, l2, l2} {
			c := mustDial(t, l)
			ping(t, c, "hello")
			synctest.Wait()
			if n := mustCount(t, p); n.Active != i+1 || n.Acceptors != 5 {
				t.Fatalf("after %d accepts: %+v, want %d active and 5 acceptors", i+1, n, i+1)
			}
		}
	})
}

// "close_socket": closing the listener stops new accepts, the pool drops
// it, and the existing connection keeps working.
func TestPool_CloseListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var terms atomic.Int32
		p := mustStart(t, acceptor.Spec{New: func() acceptor.Acceptor {
			return &acc{term: func(r error) {
				if errors.Is(r, acceptor.ErrListenerClosed) {
					terms.Add(1)
				}
			}}
		}})
		l := newMemListener("l")
		mustAdd(t, p, l, 2)
		c := mustDial(t, l)
		ping(t, c, "one")
		synctest.Wait() // the replacement acceptor is running
		l.Close()
		synctest.Wait()
		if _, err := l.Dial(); err == nil {
			t.Fatal("dial after close succeeded")
		}
		ping(t, c, "two")
		lns, _ := p.Listeners(context.Background())
		if len(lns) != 0 {
			t.Fatalf("listeners after close = %v", lns)
		}
		if n := mustCount(t, p); n.Active != 1 || n.Acceptors != 0 {
			t.Fatalf("counts = %+v", n)
		}
		if terms.Load() != 2 {
			t.Fatalf("%d acceptors terminated with ErrListenerClosed, want 2", terms.Load())
		}
	})
}

// "which_sockets", "which_children", "count_children".
func TestPool_Introspection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{ID: "kid", New: acceptor.Func(echo)})
		l := newMemListener("srv")
		ref := mustAdd(t, p, l, 1)
		ctx := context.Background()
		lns, err := p.Listeners(ctx)
		if err != nil || len(lns) != 1 || lns[0].Ref != ref || lns[0].Addr.String() != "srv" || lns[0].Acceptors != 1 || lns[0].Listener != l {
			t.Fatalf("Listeners = %+v, %v", lns, err)
		}
		kids, _ := p.Children(ctx)
		if len(kids) != 0 {
			t.Fatalf("children before = %v", kids)
		}
		if n := mustCount(t, p); n != (acceptor.Counts{Specs: 1, Acceptors: 1, Workers: 1}) {
			t.Fatalf("count = %+v", n)
		}
		c := mustDial(t, l)
		ping(t, c, "x")
		synctest.Wait()
		kids, _ = p.Children(ctx)
		if len(kids) != 1 || kids[0].ID != "kid" || kids[0].Peer.String() != c.LocalAddr().String() ||
			kids[0].Local.String() != "srv" || kids[0].Listener != ref {
			t.Fatalf("children = %+v", kids)
		}
		if n := mustCount(t, p); n != (acceptor.Counts{Specs: 1, Active: 1, Acceptors: 1, Workers: 2}) {
			t.Fatalf("count = %+v", n)
		}
		c.Close()
		synctest.Wait()
		kids, _ = p.Children(ctx)
		if len(kids) != 0 {
			t.Fatalf("children after = %v", kids)
		}
		if n := mustCount(t, p); n != (acceptor.Counts{Specs: 1, Acceptors: 1, Workers: 1}) {
			t.Fatalf("count = %+v", n)
		}
	})
}

// "start_error": Init errors count whatever the restart type, and the
// second one within the period (intensity 1) stops the pool saying so.
// Panics in Init count the same way.
func TestPool_StartError(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart acceptor.Restart
		init    func() error
	}{
		{"temporary", acceptor.Temporary, func() error { return errors.New("boom") }},
		{"transient", acceptor.Transient, func() error { return errors.New("boom") }},
		{"panic", acceptor.Temporary, func() error { panic("init panic") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				p := mustStart(t, acceptor.Spec{Restart: tc.restart, New: func() acceptor.Acceptor {
					return &acc{init: func(context.Context, acceptor.ListenerInfo) (acceptor.Options, error) {
						calls.Add(1)
						return acceptor.Options{}, tc.init()
					}}
				}})
				l := newMemListener("l")
				mustAdd(t, p, l, 1)
				<-p.Done()
				var ie *acceptor.IntensityError
				if !errors.Is(p.Err(), acceptor.ErrMaxIntensity) || !errors.As(p.Err(), &ie) || ie.Intensity != 1 {
					t.Fatalf("Err = %v", p.Err())
				}
				if calls.Load() != 2 {
					t.Fatalf("Init ran %d times, want 2 (one restart allowed)", calls.Load())
				}
				if _, err := l.Dial(); err == nil {
					t.Fatal("listener still open after the pool stopped")
				}
			})
		})
	}
}

// Init errors spaced by more than the period never exceed intensity 1.
func TestPool_StartErrorPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		p := mustStart(t, acceptor.Spec{Period: time.Second, New: func() acceptor.Acceptor {
			return &acc{init: func(context.Context, acceptor.ListenerInfo) (acceptor.Options, error) {
				if calls.Add(1) <= 5 {
					time.Sleep(1001 * time.Millisecond)
					return acceptor.Options{}, errors.New("slow failure")
				}
				return acceptor.Options{}, nil
			}}
		}})
		mustAdd(t, p, newMemListener("l"), 1)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := mustCount(t, p); n.Acceptors != 1 || calls.Load() != 6 {
			t.Fatalf("count %+v after %d inits", n, calls.Load())
		}
	})
}

// ErrIgnore never counts, even with intensity 0, and is replaced.
func TestPool_IgnoreNeverCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		p := mustStart(t, acceptor.Spec{Intensity: -1, New: func() acceptor.Acceptor {
			return &acc{init: func(context.Context, acceptor.ListenerInfo) (acceptor.Options, error) {
				if calls.Add(1) <= 10 {
					return acceptor.Options{}, acceptor.ErrIgnore
				}
				return acceptor.Options{}, nil
			}}
		}})
		l := newMemListener("l")
		mustAdd(t, p, l, 2)
		synctest.Wait()
		if n := mustCount(t, p); n.Acceptors != 2 || calls.Load() != 12 {
			t.Fatalf("count %+v after %d inits", n, calls.Load())
		}
		ping(t, mustDial(t, l), "still serving")
	})
}

// "child_error": abnormal connection exits stop a transient pool at the
// second (intensity 1) but never a temporary one; panics are abnormal.
func TestPool_ChildError(t *testing.T) {
	oops := func(ctx context.Context, c net.Conn) error {
		buf := make([]byte, 1)
		c.Read(buf)
		if buf[0] == 'p' {
			panic("oops panic")
		}
		return errors.New("oops")
	}
	for _, restart := range []acceptor.Restart{acceptor.Transient, acceptor.Temporary} {
		t.Run(restart.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				logger, logs := newLog()
				p := mustStart(t, acceptor.Spec{Restart: restart, New: acceptor.Func(oops), Logger: logger})
				l := newMemListener("l")
				mustAdd(t, p, l, 1)
				bystander := mustDial(t, l)
				synctest.Wait()
				for _, b := range []string{"e", "p"} {
					c := mustDial(t, l)
					c.Write([]byte(b))
					synctest.Wait()
				}
				if !strings.Contains(logs.String(), "oops panic") || !strings.Contains(logs.String(), "runtime/debug.Stack") {
					t.Errorf("panic not logged with its stack:\n%s", logs)
				}
				if restart == acceptor.Transient {
					// The bystander ignores its ctx: the pool ends when the
					// staged shutdown closes its socket, Spec.Shutdown later.
					start := time.Now()
					<-p.Done()
					if !errors.Is(p.Err(), acceptor.ErrMaxIntensity) || time.Since(start) != 5*time.Second {
						t.Fatalf("pool stopped after %v: %v", time.Since(start), p.Err())
					}
					return
				}
				select {
				case <-p.Done():
					t.Fatalf("temporary pool stopped: %v", p.Err())
				default:
					if n := mustCount(t, p); n.Active != 1 {
						t.Fatalf("counts %+v: the bystander connection should be the one left", n)
					}
					bystander.Write([]byte("e")) // ends the bystander: its error is not counted either
					synctest.Wait()
					if n := mustCount(t, p); n.Active != 0 || n.Acceptors != 1 {
						t.Fatalf("counts %+v", n)
					}
				}
			})
		})
	}
}

// "transient_shutdown": quiet exit reasons never count.
func TestPool_TransientShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reasons := []error{nil, acceptor.ErrShutdown, acceptor.Shutdown(errors.New("oops")), io.EOF, context.Canceled}
		var i atomic.Int32
		p := mustStart(t, acceptor.Spec{Restart: acceptor.Transient, Intensity: -1,
			New: acceptor.Func(func(ctx context.Context, c net.Conn) error {
				return reasons[i.Add(1)-1]
			})})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		for range reasons {
			mustDial(t, l)
			synctest.Wait()
		}
		if i.Load() != int32(len(reasons)) {
			t.Fatalf("%d connections ran", i.Load())
		}
		select {
		case <-p.Done():
			t.Fatalf("pool stopped: %v", p.Err())
		default:
		}
	})
}

// Options.AcceptTimeout ends the acceptor quietly (Terminate gets
// ErrAcceptTimeout) at exactly the timeout, and a replacement starts; it
// never counts, even with intensity 0.
func TestPool_AcceptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		var ends []time.Duration
		p := mustStart(t, acceptor.Spec{Intensity: -1, New: func() acceptor.Acceptor {
			return &acc{
				init: func(context.Context, acceptor.ListenerInfo) (acceptor.Options, error) {
					return acceptor.Options{AcceptTimeout: 100 * time.Millisecond}, nil
				},
				term: func(r error) {
					if errors.Is(r, acceptor.ErrAcceptTimeout) {
						mu.Lock()
						ends = append(ends, time.Since(start))
						mu.Unlock()
					}
				},
			}
		}})
		l := newMemListener("l")
		mustAdd(t, p, l, 2)
		time.Sleep(350 * time.Millisecond)
		synctest.Wait()
		mu.Lock()
		got := append([]time.Duration(nil), ends...)
		mu.Unlock()
		want := []time.Duration{100, 100, 200, 200, 300, 300}
		if len(got) != len(want) {
			t.Fatalf("timeouts at %v", got)
		}
		for i := range want {
			if got[i] != want[i]*time.Millisecond {
				t.Fatalf("timeouts at %v, want %v ms", got, want)
			}
		}
		if n := mustCount(t, p); n.Acceptors != 2 {
			t.Fatalf("counts %+v", n)
		}
		ping(t, mustDial(t, l), "still serving")
	})
}

// "shutdown_children": Shutdown closes the listeners and signals
// Draining first, cancels the contexts after Grace, and returns once all
// returned; the pool's Err is ErrClosed.
func TestPool_ShutdownChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var mu sync.Mutex
		var drained, cancelled []time.Duration
		p := mustStart(t, acceptor.Spec{Grace: 300 * time.Millisecond,
			New: acceptor.Func(func(ctx context.Context, c net.Conn) error {
				<-acceptor.Draining(ctx)
				mu.Lock()
				drained = append(drained, time.Since(start))
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				cancelled = append(cancelled, time.Since(start))
				mu.Unlock()
				return ctx.Err()
			})})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		mustDial(t, l)
		mustDial(t, l)
		synctest.Wait()
		time.Sleep(time.Second)
		start = time.Now()
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown = %v", err)
		}
		if time.Since(start) != 300*time.Millisecond {
			t.Fatalf("Shutdown took %v", time.Since(start))
		}
		if len(drained) != 2 || drained[0] != 0 || drained[1] != 0 ||
			len(cancelled) != 2 || cancelled[0] != 300*time.Millisecond || cancelled[1] != 300*time.Millisecond {
			t.Fatalf("drained at %v, cancelled at %v", drained, cancelled)
		}
		if _, err := l.Dial(); err == nil {
			t.Fatal("listener open after Shutdown")
		}
		if !errors.Is(p.Err(), acceptor.ErrClosed) {
			t.Fatalf("Err = %v", p.Err())
		}
		if _, err := p.Count(context.Background()); !errors.Is(err, acceptor.ErrClosed) {
			t.Fatalf("Count after shutdown: %v", err)
		}
	})
}

// "kill_children": a connection that ignores its ctx has its socket
// closed after Spec.Shutdown; with BrutalKill right after the grace.
func TestPool_KillChildren(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shutdown time.Duration
		want     time.Duration
	}{
		{"timeout", 500 * time.Millisecond, 600 * time.Millisecond},
		{"brutal", acceptor.BrutalKill, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var readErr atomic.Value
				p := mustStart(t, acceptor.Spec{Grace: 100 * time.Millisecond, Shutdown: tc.shutdown,
					New: acceptor.Func(func(ctx context.Context, c net.Conn) error {
						_, err := c.Read(make([]byte, 1)) // ignores ctx and Draining
						readErr.Store(err)
						return err
					})})
				l := newMemListener("l")
				mustAdd(t, p, l, 1)
				mustDial(t, l)
				synctest.Wait()
				start := time.Now()
				if err := p.Shutdown(context.Background()); err != nil {
					t.Fatalf("Shutdown = %v", err)
				}
				if time.Since(start) != tc.want {
					t.Fatalf("Shutdown took %v, want %v", time.Since(start), tc.want)
				}
				if err, _ := readErr.Load().(error); !errors.Is(err, io.ErrClosedPipe) {
					t.Fatalf("handler's read ended with %v", err)
				}
			})
		})
	}
}

// A goroutine that ignores everything, even a closed socket, is named in
// a *ShutdownError after Spec.Abandon.
func TestPool_Abandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		p := mustStart(t, acceptor.Spec{Shutdown: 100 * time.Millisecond, Abandon: 200 * time.Millisecond,
			New: acceptor.Func(func(ctx context.Context, c net.Conn) error {
				<-release
				return nil
			})})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		c := mustDial(t, l)
		synctest.Wait()
		start := time.Now()
		err := p.Shutdown(context.Background())
		var se *acceptor.ShutdownError
		if !errors.As(err, &se) || !errors.Is(err, acceptor.ErrShutdownTimeout) || len(se.Stragglers) != 1 ||
			!se.Stragglers[0].HandedOff || se.Stragglers[0].Peer.String() != c.LocalAddr().String() {
			t.Fatalf("Shutdown = %v", err)
		}
		if time.Since(start) != 300*time.Millisecond {
			t.Fatalf("gave up after %v", time.Since(start))
		}
		if !errors.As(p.Err(), &se) {
			t.Fatalf("Err = %v", p.Err())
		}
		close(release)
	})
}

// "grace_children": during the grace period connections keep working;
// unlike acceptor_pool, the listener is already closed (deliberate).
func TestPool_GraceChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{Grace: 500 * time.Millisecond, New: acceptor.Func(echo)})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		c := mustDial(t, l)
		ping(t, c, "before")
		done := make(chan error)
		go func() { done <- p.Shutdown(context.Background()) }()
		time.Sleep(400 * time.Millisecond)
		ping(t, c, "during grace")
		if _, err := l.Dial(); err == nil {
			t.Fatal("new connection accepted during grace")
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Close is the hard stop: no grace, no shutdown wait.
func TestPool_Close(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{Grace: time.Hour, Shutdown: time.Hour, New: acceptor.Func(echo)})
		l := newMemListener("l")
		mustAdd(t, p, l, 3)
		mustDial(t, l)
		synctest.Wait()
		start := time.Now()
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		if time.Since(start) != 0 || !errors.Is(p.Err(), acceptor.ErrClosed) {
			t.Fatalf("stopped after %v with %v", time.Since(start), p.Err())
		}
		if err := p.Close(); !errors.Is(err, acceptor.ErrClosed) {
			t.Fatalf("second Close = %v", err)
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown after Close = %v", err)
		}
	})
}

// Ranch's max_connections, counted exactly: the third client waits in
// the backlog until a slot frees, and Active never exceeds 2.
func TestPool_MaxConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{MaxConns: 2, New: acceptor.Func(echo)})
		l := newMemListener("l")
		mustAdd(t, p, l, 4)
		c1, c2, c3 := mustDial(t, l), mustDial(t, l), mustDial(t, l)
		ping(t, c1, "1")
		ping(t, c2, "2")
		synctest.Wait()
		if n := mustCount(t, p); n.Active != 2 {
			t.Fatalf("counts %+v", n)
		}
		go c3.Write([]byte("3")) // blocks until the server reads
		synctest.Wait()
		if n := mustCount(t, p); n.Active != 2 {
			t.Fatalf("third accepted while full: %+v", n)
		}
		c1.Close()
		buf := make([]byte, 1)
		if _, err := io.ReadFull(c3, buf); err != nil || buf[0] != '3' {
			t.Fatalf("third client: %q %v", buf, err)
		}
		synctest.Wait()
		if n := mustCount(t, p); n.Active != 2 {
			t.Fatalf("counts %+v", n)
		}
	})
}

// Suspend stops accepting while connections go on; Resume accepts the
// client that waited; WaitForConns sees it.
func TestPool_SuspendResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{New: acceptor.Func(echo)})
		l := newMemListener("l")
		mustAdd(t, p, l, 2)
		ctx := context.Background()
		c1 := mustDial(t, l)
		ping(t, c1, "a")
		if err := p.Suspend(ctx); err != nil {
			t.Fatal(err)
		}
		c2 := mustDial(t, l)
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := mustCount(t, p); n.Active != 1 || n.Acceptors != 2 {
			t.Fatalf("accepted while suspended: %+v", n)
		}
		ping(t, c1, "b")
		waited := make(chan error)
		go func() { waited <- p.WaitForConns(ctx, 2) }()
		synctest.Wait()
		select {
		case err := <-waited:
			t.Fatalf("WaitForConns returned early: %v", err)
		default:
		}
		if err := p.Resume(ctx); err != nil {
			t.Fatal(err)
		}
		ping(t, c2, "c")
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
		c1.Close()
		c2.Close()
		if err := p.WaitForConns(ctx, 0); err != nil {
			t.Fatal(err)
		}
	})
}

// Accept errors such as EMFILE back off 5 ms doubling to 1 s, exactly,
// never close the listener, and the pool accepts once they stop.
func TestPool_AcceptErrorBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logger, logs := newLog()
		p := mustStart(t, acceptor.Spec{New: acceptor.Func(echo), Logger: logger})
		l := newMemListener("l")
		var fails atomic.Int32
		l.fail = func() error {
			if fails.Add(1) <= 10 {
				return &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
			}
			return nil
		}
		start := time.Now()
		mustAdd(t, p, l, 3)
		time.Sleep(5 * time.Second)
		ping(t, mustDial(t, l), "served")
		l.mu.Lock()
		calls := append([]time.Time(nil), l.accepts...)
		l.mu.Unlock()
		want := []time.Duration{0, 5, 15, 35, 75, 155, 315, 635, 1275, 2275, 3275}
		if len(calls) < len(want) {
			t.Fatalf("%d accept calls", len(calls))
		}
		for i, w := range want {
			if got := calls[i].Sub(start); got != w*time.Millisecond {
				t.Fatalf("accept call %d at %v, want %v ms", i, got, w)
			}
		}
		if !strings.Contains(logs.String(), "too many open files") {
			t.Fatalf("EMFILE not logged:\n%s", logs)
		}
	})
}

// Protocol work runs in the connection goroutine: a client that never
// completes its handshake holds no acceptor, even with a single one.
func TestPool_SlowClientDoesNotBlockAcceptors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		handshake := func(ctx context.Context, c net.Conn) error {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			hello := make([]byte, 5)
			if _, err := io.ReadFull(c, hello); err != nil {
				return acceptor.Shutdown(err)
			}
			c.SetReadDeadline(time.Time{})
			return echo(ctx, c)
		}
		p := mustStart(t, acceptor.Spec{New: acceptor.Func(handshake)})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		mustDial(t, l) // silent
		start := time.Now()
		for range 3 {
			c := mustDial(t, l)
			c.Write([]byte("hello"))
			ping(t, c, "fast")
		}
		if time.Since(start) != 0 {
			t.Fatalf("served after %v", time.Since(start))
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := mustCount(t, p); n.Active != 3 {
			t.Fatalf("silent client not dropped by its handshake timeout: %+v", n)
		}
	})
}

// More abnormal exits than the intensity stop the pool via the staged
// shutdown: the remaining connections see Draining.
func TestPool_IntensityDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var drained atomic.Int32
		p := mustStart(t, acceptor.Spec{Restart: acceptor.Transient, Intensity: -1,
			New: acceptor.Func(func(ctx context.Context, c net.Conn) error {
				b := make([]byte, 1)
				go func() { <-acceptor.Draining(ctx); drained.Add(1); c.Close() }()
				if _, err := c.Read(b); err != nil {
					return nil
				}
				return errors.New("bad")
			})})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		mustDial(t, l)
		c := mustDial(t, l)
		synctest.Wait()
		c.Write([]byte("x"))
		<-p.Done()
		synctest.Wait() // the watcher goroutines are not the pool's
		if !errors.Is(p.Err(), acceptor.ErrMaxIntensity) || drained.Load() != 2 {
			t.Fatalf("Err = %v, drained %d", p.Err(), drained.Load())
		}
	})
}

func TestStart_BadSpec(t *testing.T) {
	for _, s := range []acceptor.Spec{{}, {New: acceptor.Func(echo), Grace: -1}, {New: acceptor.Func(echo), Restart: 7}} {
		if _, err := acceptor.Start(context.Background(), s); !errors.Is(err, acceptor.ErrBadSpec) {
			t.Errorf("Start(%+v) = %v", s, err)
		}
	}
}

// "shutdown_children" for idle acceptors: they end at stage 1 with
// Terminate(ErrClosed); AddListener then fails with ErrClosed.
func TestPool_ShutdownIdleAcceptors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var closed atomic.Int32
		p := mustStart(t, acceptor.Spec{New: func() acceptor.Acceptor {
			return &acc{term: func(r error) {
				if errors.Is(r, acceptor.ErrClosed) {
					closed.Add(1)
				}
			}}
		}})
		mustAdd(t, p, newMemListener("a"), 2)
		mustAdd(t, p, newMemListener("b"), 3)
		synctest.Wait()
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if closed.Load() != 5 {
			t.Fatalf("%d acceptors terminated with ErrClosed, want 5", closed.Load())
		}
		if _, err := p.AddListener(context.Background(), newMemListener("c"), 1); !errors.Is(err, acceptor.ErrClosed) {
			t.Fatalf("AddListener after Shutdown = %v", err)
		}
		if err := p.Suspend(context.Background()); !errors.Is(err, acceptor.ErrClosed) {
			t.Fatalf("Suspend after Shutdown = %v", err)
		}
	})
}

// Close during a graceful Shutdown hurries it: the waiting Shutdown
// returns as soon as the sockets are closed.
func TestPool_CloseDuringShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{Grace: time.Hour, Shutdown: time.Hour, New: acceptor.Func(echo)})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		mustDial(t, l)
		synctest.Wait()
		done := make(chan error)
		start := time.Now()
		go func() { done <- p.Shutdown(context.Background()) }()
		time.Sleep(time.Minute)
		p.Close()
		if err := <-done; err != nil || time.Since(start) != time.Minute {
			t.Fatalf("Shutdown = %v after %v", err, time.Since(start))
		}
	})
}

// A Shutdown whose ctx ends first returns ctx.Err(); the stages go on and
// the pool still stops.
func TestPool_ShutdownContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustStart(t, acceptor.Spec{Grace: time.Second, New: acceptor.Func(echo)})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		mustDial(t, l)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v", err)
		}
		start := time.Now()
		<-p.Done()
		// echo ignores its ctx: the rest of the grace, then Spec.Shutdown
		// (5s) until its socket is closed.
		if time.Since(start) != 5900*time.Millisecond || !errors.Is(p.Err(), acceptor.ErrClosed) {
			t.Fatalf("stopped after %v more with %v", time.Since(start), p.Err())
		}
	})
}

// MaxConns with accept timeouts: an acceptor waiting for a slot times out
// like one waiting in Accept.
func TestPool_MaxConnsAcceptTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var timeouts atomic.Int32
		p := mustStart(t, acceptor.Spec{MaxConns: 1, New: func() acceptor.Acceptor {
			return &acc{
				init: func(context.Context, acceptor.ListenerInfo) (acceptor.Options, error) {
					return acceptor.Options{AcceptTimeout: time.Second}, nil
				},
				term: func(r error) {
					if errors.Is(r, acceptor.ErrAcceptTimeout) {
						timeouts.Add(1)
					}
				},
			}
		}})
		l := newMemListener("l")
		mustAdd(t, p, l, 1)
		c := mustDial(t, l)
		ping(t, c, "x")
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		if timeouts.Load() != 3 {
			t.Fatalf("%d timeouts while full, want 3", timeouts.Load())
		}
		c.Close()
		ping(t, mustDial(t, l), "y")
	})
}

// A connection accepted while Shutdown begins is never missed (net/http's
// #20239 and #33313): it is tracked, sees Draining, and Shutdown waits
// for it. Repeated to explore interleavings.
func TestPool_AcceptRacingShutdown(t *testing.T) {
	for range 50 {
		synctest.Test(t, func(t *testing.T) {
			var running atomic.Int32
			p := mustStart(t, acceptor.Spec{New: acceptor.Func(func(ctx context.Context, c net.Conn) error {
				running.Add(1)
				defer running.Add(-1)
				<-acceptor.Draining(ctx)
				return nil
			})})
			l := newMemListener("l")
			mustAdd(t, p, l, 2)
			for range 3 {
				go l.Dial()
			}
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := running.Load(); n != 0 {
				t.Fatalf("%d handlers still running after Shutdown", n)
			}
		})
	}
}
