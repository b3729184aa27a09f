package connection_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/effusion-bt/effusion/connection"
	"github.com/effusion-bt/effusion/statem"
)

// HandleInfo (and HandleCast) forms: Connect and Disconnect run next,
// before queued messages; Stop ends with Terminate.
func TestConnInfo_Results(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		boom := errors.New("boom")
		c, _ := connection.Start[int](bg, &FuncConn{trace: tr,
			connect:    func(_ context.Context, _ any, d int) R { return connection.Ok(d + 1) },
			disconnect: func(_ context.Context, _ any, d int) R { return connection.NoConnect(d + 1) },
			info: func(_ context.Context, msg any, d int) R {
				switch msg {
				case "up":
					return connection.Connect("i", d)
				case "down":
					return connection.Disconnect("i", d)
				case "stop":
					return connection.Stop(boom, d)
				}
				return connection.Ok(d)
			},
		})
		for _, m := range []string{"up", "x", "down", "y", "stop", "z"} {
			c.Send(m)
		}
		<-c.Done()
		wantTrace(t, tr, "0s init", "0s info up 0", "0s connect i 0", "0s info x 1", "0s info down 1",
			"0s disconnect i 1", "0s info y 2", "0s info stop 2", "0s terminate boom 2")
		if !errors.Is(c.Err(), boom) {
			t.Fatalf("Err = %v", c.Err())
		}
		if err := c.Send("late"); !errors.Is(err, statem.ErrStopped) {
			t.Fatalf("Send after stop = %v", err)
		}
	})
}

// The default policy grows with jitter up to its cap and never gives up.
func TestDefaultPolicy_NeverGivesUp(t *testing.T) {
	p := connection.DefaultPolicy()
	var last time.Duration
	for i := range 1000 {
		d := p.NextBackOff()
		if d == backoff.Stop || d <= 0 {
			t.Fatalf("attempt %d: %v", i, d)
		}
		if d > time.Duration(float64(connection.DefaultMax)*(1+connection.DefaultJitter))+time.Nanosecond {
			t.Fatalf("attempt %d: %v over the cap", i, d)
		}
		last = d
	}
	if last < time.Duration(float64(connection.DefaultMax)*(1-connection.DefaultJitter)) {
		t.Fatalf("never reached the cap: %v", last)
	}
	p.Reset()
	if d := p.NextBackOff(); d > time.Duration(float64(connection.DefaultInitial)*(1+connection.DefaultJitter))+time.Nanosecond {
		t.Fatalf("after Reset: %v", d)
	}
}

type secretConn struct{ FuncConn }

func (secretConn) FormatStatus(st statem.Status[connection.Phase, int]) statem.Status[connection.Phase, int] {
	st.Data = -1
	return st
}

// A handler's FormatStatus hides its data from Status.
func TestConn_FormatStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &secretConn{FuncConn{init: func(context.Context) (R, error) { return connection.Ok(42), nil }}}
		c, _ := connection.Start[int](bg, h)
		defer c.Stop(bg, nil)
		st, err := c.Machine().Status(bg)
		if err != nil || st.Data != -1 || st.State != connection.Connected {
			t.Fatalf("Status = %+v, %v", st, err)
		}
	})
}
