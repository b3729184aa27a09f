package connection_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/effusion-bt/effusion/connection"
	"github.com/effusion-bt/effusion/statem"
)

// C4: HandleCall's reply forms, and Connect/Disconnect with and without
// replying first.
func TestConnCall_Results(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		gate := make(chan struct{})
		var pending connection.From
		c := start(t, &FuncConn{trace: tr,
			connect: func(ctx context.Context, info any, d int) R {
				if info == "slow" {
					<-gate // still connecting when the caller got its reply
				}
				if info == "deferred" {
					pending.Reply("connected")
				}
				return connection.Ok(d)
			},
			disconnect: func(_ context.Context, info any, d int) R {
				if cl, ok := info.(closing); ok {
					cl.from.Reply("closed")
				}
				return connection.NoConnect(d)
			},
			call: func(_ context.Context, req any, from connection.From, d int) R {
				switch req {
				case "reply":
					return connection.Reply("r", d+1)
				case "error":
					return connection.ReplyError(errors.New("e"), d+1)
				case "noreply":
					go from.Reply("later")
					return connection.NoReply(d + 1)
				case "connect-reply":
					return connection.Connect("slow", d+1).WithReply("first")
				case "connect":
					pending = from
					return connection.Connect("deferred", d+1)
				case "disconnect-reply":
					return connection.Disconnect("bye", d+1).WithReply("first")
				case "disconnect":
					return connection.Disconnect(closing{from}, d+1)
				}
				return connection.Stop(nil, d).WithReply("stopping")
			},
		})
		for _, tc := range []struct {
			req  string
			want any
		}{
			{"reply", "r"}, {"noreply", "later"}, {"connect", "connected"},
			{"disconnect-reply", "first"}, {"disconnect", "closed"},
		} {
			if v, err := c.Call(bg, tc.req); v != tc.want || err != nil {
				t.Fatalf("Call(%s) = %v, %v", tc.req, v, err)
			}
		}
		if _, err := c.Call(bg, "error"); err == nil || err.Error() != "e" {
			t.Fatalf("Call(error) = %v", err)
		}
		// The reply comes first: the caller returns while Connect blocks.
		if v, err := c.Call(bg, "connect-reply"); v != "first" || err != nil {
			t.Fatalf("Call(connect-reply) = %v, %v", v, err)
		}
		synctest.Wait()
		close(gate)
		if v, err := c.Call(bg, "stop"); v != "stopping" || err != nil {
			t.Fatalf("Call(stop) = %v, %v", v, err)
		}
		<-c.Done()
		wantTrace(t, tr, "0s init",
			"0s call reply 0",
			"0s call noreply 1",
			"0s call connect 2", "0s connect deferred 3",
			"0s call disconnect-reply 3", "0s disconnect bye 4",
			"0s call disconnect 4", "0s disconnect closing 5",
			"0s call error 5",
			"0s call connect-reply 6", "0s connect slow 7",
			"0s call stop 7", "0s terminate <nil> 7")
	})
}

// C5: the backoff timer survives ordinary messages (calls, casts, infos).
func TestConnBackoff_NotCancelledByMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		c := start(t, &FuncConn{trace: tr,
			init:    func(context.Context) (R, error) { return connection.Backoff(time.Second, 0), nil },
			connect: func(_ context.Context, _ any, d int) R { return connection.Ok(d) },
			cast:    func(_ context.Context, _ any, d int) R { return connection.Ok(d) },
			call: func(_ context.Context, _ any, _ connection.From, d int) R {
				return connection.Reply("pong", d)
			},
		})
		for range 3 {
			time.Sleep(300 * time.Millisecond)
			c.Cast("c")
			c.Send("i")
			c.Call(bg, "p")
		}
		time.Sleep(time.Second)
		got := tr.get()
		if last := got[len(got)-1]; last != "1s connect {} 0" {
			t.Fatalf("trace %v", got)
		}
	})
}

// C5: any connect or disconnect cancels a pending backoff timer,
// including one already expired but not yet delivered.
func TestConnBackoff_CancelledByConnectAndDisconnect(t *testing.T) {
	for _, what := range []string{"connect", "disconnect"} {
		t.Run(what, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tr := newTrace()
				c := start(t, &FuncConn{trace: tr,
					init: func(context.Context) (R, error) { return connection.Backoff(time.Second, 0), nil },
					connect: func(_ context.Context, info any, d int) R {
						if info == "manual" {
							return connection.Backoff(10*time.Second, d)
						}
						return connection.Ok(d)
					},
					disconnect: func(_ context.Context, _ any, d int) R { return connection.NoConnect(d) },
					cast: func(_ context.Context, _ any, d int) R {
						if what == "connect" {
							return connection.Connect("manual", d)
						}
						return connection.Disconnect("manual", d)
					},
				})
				time.Sleep(500 * time.Millisecond)
				c.Cast("go")
				time.Sleep(5 * time.Second)
				want := []string{"0s init", "500ms cast go 0", "500ms connect manual 0"}
				if what == "disconnect" {
					want[2] = "500ms disconnect manual 0"
				}
				wantTrace(t, tr, want...)
				if what == "connect" {
					time.Sleep(10 * time.Second)
					wantTrace(t, tr, append(want, "10.5s connect {} 0")...)
				}
			})
		})
	}
}

// C5: a timer that expired while Connect was busy is flushed by the
// connect transition (Connection flushes the delivered timeout message).
func TestConnBackoff_ExpiredTimerFlushed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		c := start(t, &FuncConn{trace: tr,
			init: func(context.Context) (R, error) { return connection.Backoff(time.Second, 0), nil },
			connect: func(_ context.Context, info any, d int) R {
				if info == "slow" {
					time.Sleep(2 * time.Second) // the backoff timer expires meanwhile
				}
				return connection.Ok(d)
			},
			cast: func(_ context.Context, _ any, d int) R { return connection.Connect("slow", d) },
		})
		time.Sleep(500 * time.Millisecond)
		c.Cast("go")
		time.Sleep(time.Minute)
		wantTrace(t, tr, "0s init", "500ms cast go 0", "500ms connect slow 0")
	})
}

// C5: Backoff(Infinity) sets no timer.
func TestConnBackoff_Infinity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		c := start(t, &FuncConn{trace: tr,
			init: func(context.Context) (R, error) { return connection.Backoff(connection.Infinity, 0), nil },
		})
		time.Sleep(24 * time.Hour)
		wantTrace(t, tr, "0s init")
		st, err := c.Machine().Status(bg)
		if err != nil || len(st.Timeouts) != 0 {
			t.Fatalf("timeouts %v, %v", st.Timeouts, err)
		}
	})
}

// C6: calls are served while disconnected; the handler decides.
func TestConn_CallWhileDisconnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := start(t, &FuncConn{
			init:    func(context.Context) (R, error) { return connection.Backoff(time.Hour, 0), nil },
			connect: func(_ context.Context, _ any, d int) R { return connection.Backoff(time.Hour, d) },
			call: func(_ context.Context, _ any, _ connection.From, d int) R {
				return connection.ReplyError(errors.New("closed"), d)
			},
		})
		for range 5 {
			if _, err := c.Call(bg, "send"); err == nil || err.Error() != "closed" {
				t.Fatalf("Call = %v", err)
			}
		}
	})
}

// Stop cancels the ctx of a Connect that hangs, so shutdown never waits
// for a dial; Terminate runs.
func TestConn_StopCancelsConnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		c, _ := connection.Start[int](bg, &FuncConn{trace: tr,
			init: func(context.Context) (R, error) { return connection.Connect("dial", 0), nil },
			connect: func(ctx context.Context, _ any, d int) R {
				<-ctx.Done() // a dial that never answers
				return connection.Backoff(time.Second, d+1)
			},
		})
		time.Sleep(time.Hour)
		if err := c.Stop(bg, nil); err != nil {
			t.Fatal(err)
		}
		wantTrace(t, tr, "0s init", "0s connect dial 0", "1h0m0s terminate <nil> 1")
	})
}

// Defaults: an unexpected call or cast stops with a *BadMessageError;
// an unexpected info is ignored.
func TestConn_Defaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := connection.Start[int](bg, &FuncConn{})
		c.Send("ignored")
		if _, err := c.Call(bg, "what"); !errors.Is(err, statem.ErrStopped) {
			t.Fatalf("Call = %v", err)
		}
		var bm *connection.BadMessageError
		if !errors.As(c.Err(), &bm) || bm.Callback != "HandleCall" || bm.Message != "what" {
			t.Fatalf("Err = %v", c.Err())
		}
	})
}

// closing carries a deferred reply to Disconnect (TCPConnection's close).
type closing struct{ from connection.From }

func (closing) String() string { return "closing" }
