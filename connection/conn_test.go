package connection_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/effusion-bt/effusion/connection"
	"github.com/effusion-bt/effusion/statem"
)

var bg = context.Background()

func start(t *testing.T, f *FuncConn, opts ...connection.Option) *connection.Conn[int] {
	t.Helper()
	c, err := connection.Start[int](bg, f, opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		c.Stop(bg, nil)
	})
	return c
}

// wantTrace compares the trace after letting the machine settle.
func wantTrace(t *testing.T, tr *trace, want ...string) {
	t.Helper()
	synctest.Wait()
	if got := tr.get(); !slices.Equal(got, want) {
		t.Fatalf("trace:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func phase(t *testing.T, c *connection.Conn[int]) connection.Phase {
	t.Helper()
	p, _, err := c.State(bg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// C1: init Ok: no connect, the loop runs; Ok with an idle time-out
// delivers IdleTimeout to HandleInfo.
func TestConnInit_Ok(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		c := start(t, &FuncConn{trace: tr,
			init: func(context.Context) (R, error) { return connection.Ok(1).WithIdle(time.Second), nil },
		})
		time.Sleep(2 * time.Second)
		wantTrace(t, tr, "0s init", "1s info {} 1")
		if phase(t, c) != connection.Connected {
			t.Fatal("phase")
		}
	})
}

// C1: init Connect runs Connect after Start returned and before a message
// already queued (here cast from inside Init through the registry).
func TestConnInit_ConnectBeforeQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		reg := statem.NewLocalRegistry()
		c := start(t, &FuncConn{trace: tr,
			init: func(context.Context) (R, error) {
				p, _ := reg.Whereis("c")
				p.Cast("early")
				return connection.Connect("init", 1), nil
			},
			connect: func(_ context.Context, info any, d int) R { return connection.Ok(d + 1) },
			cast:    func(_ context.Context, msg any, d int) R { return connection.Ok(d + 1) },
		}, statem.WithName(reg, "c"))
		wantTrace(t, tr, "0s init", "0s connect init 1", "0s cast early 2")
		if phase(t, c) != connection.Connected {
			t.Fatal("phase")
		}
	})
}

// C1: init Backoff(t) calls Connect(BackoffExpired) after exactly t; with
// an idle time-out both fire, independently.
func TestConnInit_Backoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		c := start(t, &FuncConn{trace: tr,
			init: func(context.Context) (R, error) {
				return connection.Backoff(time.Second, 1).WithIdle(300 * time.Millisecond), nil
			},
			connect: func(_ context.Context, info any, d int) R { return connection.Ok(d + 1) },
		})
		if phase(t, c) != connection.Disconnected {
			t.Fatal("phase")
		}
		time.Sleep(5 * time.Second)
		wantTrace(t, tr, "0s init", "300ms info {} 1", "1s connect {} 1")
		if phase(t, c) != connection.Connected {
			t.Fatal("phase")
		}
	})
}

// C1: ignore, stop, error and panic in Init: Start fails, no Terminate,
// the name is free again.
func TestConnInit_IgnoreStop(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		init func(context.Context) (R, error)
		want error
	}{
		{"ignore", func(context.Context) (R, error) { return R{}, statem.ErrIgnore }, statem.ErrIgnore},
		{"error", func(context.Context) (R, error) { return R{}, boom }, boom},
		{"stop", func(context.Context) (R, error) { return connection.Stop(boom, 0), nil }, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := newTrace()
				reg := statem.NewLocalRegistry()
				_, err := connection.Start[int](bg, &FuncConn{trace: tr, init: tc.init}, statem.WithName(reg, "n"))
				if !errors.Is(err, tc.want) {
					t.Fatalf("Start = %v, want %v", err, tc.want)
				}
				wantTrace(t, tr, "0s init")
				if _, ok := reg.Whereis("n"); ok {
					t.Fatal("name still registered")
				}
			})
		})
	}
	t.Run("panic", func(t *testing.T) {
		_, err := connection.Start[int](bg, &FuncConn{init: func(context.Context) (R, error) { panic("p") }})
		var pe *statem.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("Start = %v", err)
		}
	})
}

// C2: every Connect result, from the init path and from the backoff path.
func TestConnConnect_Results(t *testing.T) {
	boom := errors.New("boom")
	for _, path := range []string{"init", "backoff"} {
		t.Run(path+"/ok-backoff-stop", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := newTrace()
				n := 0
				c := start(t, &FuncConn{trace: tr,
					init: func(context.Context) (R, error) {
						if path == "init" {
							return connection.Connect("go", 0), nil
						}
						return connection.Backoff(time.Second, 0), nil
					},
					connect: func(_ context.Context, info any, d int) R {
						n++
						switch n {
						case 1:
							return connection.Backoff(2*time.Second, d+1)
						case 2:
							return connection.Ok(d + 1)
						}
						return connection.Stop(boom, d+1)
					},
					call: func(_ context.Context, req any, _ connection.From, d int) R {
						return connection.Connect("again", d).WithReply("ok")
					},
				})
				time.Sleep(10 * time.Second)
				first, at := "0s connect go 0", "2s connect {} 1"
				if path == "backoff" {
					first, at = "1s connect {} 0", "3s connect {} 1"
				}
				wantTrace(t, tr, "0s init", first, at)
				if phase(t, c) != connection.Connected {
					t.Fatal("phase after Ok")
				}
				if v, err := c.Call(bg, "x"); v != "ok" || err != nil {
					t.Fatalf("Call = %v, %v", v, err)
				}
				<-c.Done()
				if !errors.Is(c.Err(), boom) {
					t.Fatalf("Err = %v", c.Err())
				}
				got := tr.get()
				if got[len(got)-1] != "10s terminate boom 3" {
					t.Fatalf("trace %v", got)
				}
			})
		})
	}
}

// C2: a panic in Connect stops the connection with Terminate; a result
// Connect may not return is a *BadResultError.
func TestConnConnect_PanicAndBadResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := connection.Start[int](bg, &FuncConn{
			init:    func(context.Context) (R, error) { return connection.Connect(nil, 0), nil },
			connect: func(context.Context, any, int) R { panic("dial exploded") },
		})
		<-c.Done()
		var pe *statem.PanicError
		if !errors.As(c.Err(), &pe) {
			t.Fatalf("Err = %v", c.Err())
		}
		c, _ = connection.Start[int](bg, &FuncConn{
			init:    func(context.Context) (R, error) { return connection.Connect(nil, 0), nil },
			connect: func(_ context.Context, _ any, d int) R { return connection.NoConnect(d) },
		})
		<-c.Done()
		var be *connection.BadResultError
		if !errors.As(c.Err(), &be) || be.Callback != "Connect" {
			t.Fatalf("Err = %v", c.Err())
		}
	})
}

// C3: every Disconnect result.
func TestConnDisconnect_Results(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		r    func(d int) R
		want []string
	}{
		{"connect", func(d int) R { return connection.Connect("re", d+1) },
			[]string{"0s cast drop 0", "0s disconnect x 0", "0s connect re 1", "0s cast later 1"}},
		{"backoff", func(d int) R { return connection.Backoff(time.Second, d+1) },
			[]string{"0s cast drop 0", "0s disconnect x 0", "0s cast later 1", "1s connect {} 1"}},
		{"noconnect", func(d int) R { return connection.NoConnect(d + 1) },
			[]string{"0s cast drop 0", "0s disconnect x 0", "0s cast later 1"}},
		{"stop", func(d int) R { return connection.Stop(boom, d+1) },
			[]string{"0s cast drop 0", "0s disconnect x 0", "0s terminate boom 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := newTrace()
				c, err := connection.Start[int](bg, &FuncConn{trace: tr,
					disconnect: func(_ context.Context, _ any, d int) R { return tc.r(d) },
					connect:    func(_ context.Context, _ any, d int) R { return connection.Ok(d) },
					cast: func(_ context.Context, msg any, d int) R {
						if msg == "drop" {
							return connection.Disconnect("x", d)
						}
						return connection.Ok(d)
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				c.Cast("drop")
				c.Cast("later")
				time.Sleep(time.Minute)
				synctest.Wait()
				if got := tr.get(); !slices.Equal(got[1:], tc.want) {
					t.Fatalf("trace %v, want %v", got, tc.want)
				}
				if tc.name == "noconnect" && phase(t, c) != connection.Disconnected {
					t.Fatal("phase")
				}
				c.Stop(bg, nil)
			})
		})
	}
}
