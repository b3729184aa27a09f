package connection_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/connection"
)

// R is the result type of FuncConn; its data is an int so tests can see
// that every result carries the new data.
type R = connection.Result[int]

// FuncConn is Connection's EvalConn: every callback runs a closure the
// test supplies; a nil closure falls back to connection.Defaults.
type FuncConn struct {
	connection.Defaults[int]
	init       func(ctx context.Context) (R, error)
	connect    func(ctx context.Context, info any, d int) R
	disconnect func(ctx context.Context, info any, d int) R
	call       func(ctx context.Context, req any, from connection.From, d int) R
	cast       func(ctx context.Context, msg any, d int) R
	info       func(ctx context.Context, msg any, d int) R
	terminate  func(reason error, d int)
	trace      *trace
}

func (f *FuncConn) Init(ctx context.Context) (R, error) {
	f.trace.add("init")
	if f.init == nil {
		return connection.Ok(0), nil
	}
	return f.init(ctx)
}

func (f *FuncConn) Connect(ctx context.Context, info any, d int) R {
	f.trace.add("connect %v %d", info, d)
	if f.connect == nil {
		return f.Defaults.Connect(ctx, info, d)
	}
	return f.connect(ctx, info, d)
}

func (f *FuncConn) Disconnect(ctx context.Context, info any, d int) R {
	f.trace.add("disconnect %v %d", info, d)
	if f.disconnect == nil {
		return f.Defaults.Disconnect(ctx, info, d)
	}
	return f.disconnect(ctx, info, d)
}

func (f *FuncConn) HandleCall(ctx context.Context, req any, from connection.From, d int) R {
	f.trace.add("call %v %d", req, d)
	if f.call == nil {
		return f.Defaults.HandleCall(ctx, req, from, d)
	}
	return f.call(ctx, req, from, d)
}

func (f *FuncConn) HandleCast(ctx context.Context, msg any, d int) R {
	f.trace.add("cast %v %d", msg, d)
	if f.cast == nil {
		return f.Defaults.HandleCast(ctx, msg, d)
	}
	return f.cast(ctx, msg, d)
}

func (f *FuncConn) HandleInfo(ctx context.Context, msg any, d int) R {
	f.trace.add("info %v %d", msg, d)
	if f.info == nil {
		return f.Defaults.HandleInfo(ctx, msg, d)
	}
	return f.info(ctx, msg, d)
}

func (f *FuncConn) Terminate(reason error, d int) {
	f.trace.add("terminate %v %d", reason, d)
	if f.terminate != nil {
		f.terminate(reason, d)
	}
}

// trace records callbacks with the (virtual) time since it was made.
type trace struct {
	mu    sync.Mutex
	start time.Time
	lines []string
}

func newTrace() *trace { return &trace{start: time.Now()} }

func (t *trace) add(format string, args ...any) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf("%v ", time.Since(t.start))+fmt.Sprintf(format, args...))
}

func (t *trace) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}
