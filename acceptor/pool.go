package acceptor

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/effusion-bt/effusion/statem"
)

// Pool is a running acceptor pool: a statem machine that keeps N acceptor
// goroutines waiting on each of its listeners and accounts for the
// connections they hand off to. All methods are safe for concurrent use.
type Pool struct {
	m  *statem.Machine[phase, *book]
	sh *shared
}

// Start validates spec and starts an empty pool; add listeners with
// AddListener. ctx bounds only the start. Errors wrap ErrBadSpec.
func Start(ctx context.Context, spec Spec) (*Pool, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	dctx, drain := context.WithCancel(context.Background())
	cctx, cancel := context.WithCancel(context.WithValue(context.Background(), drainingKey{}, dctx))
	sh := &shared{spec: spec, ctx: cctx, cancel: cancel, closing: dctx.Done(), drain: drain}
	if spec.MaxConns > 0 {
		sh.slots = make(chan struct{}, spec.MaxConns)
	}
	b := &book{sh: sh, acceptors: map[uint64]*acceptorRec{}, conns: map[uint64]*connRec{}}
	m, err := statem.Start(ctx, statem.Handler[phase, *book](handler{b}), statem.WithLogger(spec.Logger), statem.WithLog(16))
	if err != nil {
		cancel()
		drain()
		return nil, err
	}
	sh.post = func(ev any) { m.Cast(ev) } // ErrStopped: the pool is gone, nothing to account
	return &Pool{m: m, sh: sh}, nil
}

// AddListener hands ln to the pool, which starts n acceptors on it
// (acceptor_pool's accept_socket). The pool owns ln from now on: it closes
// it at the start of Shutdown or on Close. Closing ln yourself stops
// accepting on it while existing connections go on. It returns ErrClosed
// after Shutdown or Close began.
func (p *Pool) AddListener(ctx context.Context, ln net.Listener, n int) (Ref, error) {
	if n <= 0 {
		return 0, fmt.Errorf("%w: %d acceptors", ErrBadSpec, n)
	}
	return call[Ref](ctx, p, callAdd{ln, n})
}

// Listeners lists the open listeners (which_sockets).
func (p *Pool) Listeners(ctx context.Context) ([]ListenerInfo, error) {
	return call[[]ListenerInfo](ctx, p, callListeners{})
}

// Children lists the handed-off connections, oldest first
// (which_children); acceptors still waiting are not listed.
func (p *Pool) Children(ctx context.Context) ([]Child, error) {
	return call[[]Child](ctx, p, callChildren{})
}

// Count returns the counts (count_children).
func (p *Pool) Count(ctx context.Context) (Counts, error) {
	return call[Counts](ctx, p, callCount{})
}

// Suspend stops accepting on every listener while existing connections go
// on (Ranch's suspend_listener, without closing the sockets: queued
// clients wait in the kernel's backlog). On listeners without SetDeadline
// an acceptor already inside Accept may still take one connection.
func (p *Pool) Suspend(ctx context.Context) error {
	_, err := call[any](ctx, p, callSuspend{})
	return err
}

// Resume undoes Suspend.
func (p *Pool) Resume(ctx context.Context) error {
	_, err := call[any](ctx, p, callResume{})
	return err
}

// WaitForConns blocks until exactly n connections are handed off and
// running (Ranch's wait_for_connections with '=='), or ctx ends. It fails
// with ErrClosed if the pool stops before (n == 0 is reached by a
// completed shutdown).
func (p *Pool) WaitForConns(ctx context.Context, n int) error {
	_, err := call[any](ctx, p, callWait{n})
	return err
}

// Shutdown stops the pool gracefully, in stages:
//  1. close the listeners (acceptors end) and close every connection's
//     Draining channel;
//  2. after Spec.Grace, cancel the connections' contexts;
//  3. after Spec.Shutdown, close their sockets;
//  4. after Spec.Abandon, give up on goroutines that still run.
//
// It returns nil once every goroutine returned, a *ShutdownError naming
// the ones given up on, or ctx.Err() if ctx ends first (the stages go on;
// call Close to hurry them). Concurrent and repeated calls are fine: all
// wait for the same end. It returns nil if the pool had already stopped
// for another reason (see Err).
func (p *Pool) Shutdown(ctx context.Context) error {
	_, err := call[any](ctx, p, callShutdown{})
	if err == nil || errors.As(err, new(*ShutdownError)) {
		// The reply precedes the machine's end by a hair; Done and Err
		// must be settled when Shutdown returns.
		select {
		case <-p.m.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
		return err
	}
	if errors.Is(err, ErrClosed) {
		var se *ShutdownError
		if errors.As(p.Err(), &se) {
			return se
		}
		return nil
	}
	return err
}

// Close stops the pool at once: listeners and connection sockets are
// closed and contexts cancelled. It does not wait; Done is closed when
// every goroutine returned or Spec.Abandon passed. It returns ErrClosed if
// the pool had already stopped.
func (p *Pool) Close() error {
	if p.m.Cast(evKill{}) != nil {
		return ErrClosed
	}
	return nil
}

// Done is closed when the pool has stopped.
func (p *Pool) Done() <-chan struct{} { return p.m.Done() }

// Err returns why the pool stopped, once Done is closed: ErrClosed after
// Shutdown or Close, an *IntensityError (errors.Is ErrMaxIntensity) if
// too many restarts were counted, a *ShutdownError if goroutines were
// abandoned. Nil before Done.
func (p *Pool) Err() error {
	select {
	case <-p.m.Done():
	default:
		return nil
	}
	err := p.m.Err()
	if err == nil || errors.Is(err, statem.ErrShutdown) {
		return ErrClosed
	}
	return err
}

func call[R any](ctx context.Context, p *Pool, req any) (R, error) {
	var zero R
	v, err := p.m.Call(ctx, req)
	if err != nil {
		if errors.Is(err, statem.ErrStopped) {
			return zero, ErrClosed
		}
		return zero, err
	}
	if v == nil {
		return zero, nil
	}
	return v.(R), nil
}
