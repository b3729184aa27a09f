package acceptor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Accept-error backoff, as net/http's Serve: 5 ms doubling to 1 s.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// errSuspended and errRetry are internal loop signals, never exit reasons.
var (
	errSuspended = errors.New("suspended")
	errRetry     = errors.New("retry")
)

// shared is what the pool's machine and its goroutines both read. Only
// synchronised fields are written after Start.
type shared struct {
	spec    Spec
	ctx     context.Context // the connections' ctx: carries Draining, cancelled at stage 2
	cancel  context.CancelFunc
	closing <-chan struct{}    // closed at stage 1 (Draining)
	drain   context.CancelFunc // closes closing
	slots   chan struct{}      // MaxConns semaphore; nil = unlimited
	post    func(any)          // casts an event to the machine
	seq     atomic.Uint64      // numbers acceptor goroutines

	mu      sync.Mutex
	resumed chan struct{} // nil while accepting; closed by Resume
}

// gate returns nil while accepting, else a channel closed on Resume.
func (sh *shared) gate() chan struct{} {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.resumed
}

func (sh *shared) suspended() bool { return sh.gate() != nil }

func (sh *shared) isClosing() bool {
	select {
	case <-sh.closing:
		return true
	default:
		return false
	}
}

// lnState is one listener: its acceptors take turns holding token while
// in Accept. The kernel and Go's poller serialise accepts on one socket
// anyway; the token is what lets an acceptor time out or be suspended
// without disturbing the others.
type lnState struct {
	info      ListenerInfo
	token     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
	dirty     atomic.Bool // the deadline was changed by Suspend: reset it

	// Fields below are only touched by the token holder.
	deadline time.Time
	backoff  time.Duration
}

func newLnState(info ListenerInfo) *lnState {
	return &lnState{info: info, token: make(chan struct{}, 1), closed: make(chan struct{})}
}

// markClosed records that the listener is gone; acceptors waiting on it end.
func (l *lnState) markClosed() { l.closeOnce.Do(func() { close(l.closed) }) }

func (l *lnState) isClosed() bool {
	select {
	case <-l.closed:
		return true
	default:
		return false
	}
}

// close closes the listener itself (stage 1 of a shutdown).
func (l *lnState) close() {
	l.info.Listener.Close()
	l.markClosed()
}

type deadliner interface{ SetDeadline(time.Time) error }

// kick wakes the acceptor blocked in Accept so that it sees Suspend.
func (l *lnState) kick() {
	if d, ok := l.info.Listener.(deadliner); ok {
		l.dirty.Store(true)
		d.SetDeadline(time.Unix(1, 0))
	}
}

// runAcceptor is one acceptor goroutine, from Init to the end of its
// connection (if it got one).
func (sh *shared) runAcceptor(seq uint64, l *lnState) {
	a, opts, err := sh.safeInit(l.info)
	switch {
	case errors.Is(err, ErrIgnore):
		sh.post(evIgnored{seq})
		return
	case err != nil:
		sh.post(evInitFailed{seq, err})
		return
	}
	var deadline time.Time
	if opts.AcceptTimeout > 0 {
		deadline = time.Now().Add(opts.AcceptTimeout)
	}
	c, reason := sh.acceptOne(l, deadline)
	if c == nil {
		sh.safeTerminate(a, reason)
		if errors.Is(reason, ErrAcceptTimeout) {
			sh.post(evCancelled{seq})
		} else {
			sh.post(evAcceptorExit{seq, reason})
		}
		return
	}
	// The hand-off: this goroutine becomes the connection's, and starts
	// its replacement itself, so that no round trip through the machine
	// delays the next Accept. The event registers both with the machine
	// before the replacement can report anything.
	var repl uint64
	if !l.isClosed() && !sh.isClosing() {
		repl = sh.seq.Add(1)
	}
	sh.post(evAccepted{seq: seq, replacement: repl, conn: c, peer: c.RemoteAddr(), local: c.LocalAddr(), at: time.Now()})
	if repl != 0 {
		go sh.runAcceptor(repl, l)
	}
	reason = sh.safeContinue(a, c)
	c.Close()
	sh.post(evConnExit{seq, reason})
	// Free the slot only after the exit is posted, so that the machine
	// never counts more than MaxConns at once.
	if sh.slots != nil {
		<-sh.slots
	}
}

// safeInit makes the acceptor's callbacks (Spec.New) and runs Init; a
// panic in either is an init failure.
func (sh *shared) safeInit(info ListenerInfo) (a Acceptor, opts Options, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = sh.panicked("Init", v)
		}
	}()
	a = sh.spec.New()
	opts, err = a.Init(sh.ctx, info)
	return a, opts, err
}

func (sh *shared) safeContinue(a Acceptor, c net.Conn) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = sh.panicked("Continue", v)
		}
	}()
	return a.Continue(sh.ctx, c)
}

func (sh *shared) safeTerminate(a Acceptor, reason error) {
	t, ok := a.(Terminator)
	if !ok {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			sh.panicked("Terminate", v)
		}
	}()
	t.Terminate(reason)
}

func (sh *shared) panicked(where string, v any) error {
	pe := &PanicError{Value: v, Stack: debug.Stack()}
	sh.spec.Logger.Error("acceptor: panic in "+where, "id", sh.spec.ID, "panic", fmt.Sprint(v), "stack", string(pe.Stack))
	return pe
}

// acceptOne waits for a slot, for Resume and for the listener's token,
// then accepts. It returns a connection, or why it gave up.
func (sh *shared) acceptOne(l *lnState, deadline time.Time) (net.Conn, error) {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	if sh.slots != nil {
		select {
		case sh.slots <- struct{}{}:
		case <-timeout:
			return nil, ErrAcceptTimeout
		case <-sh.closing:
			return nil, ErrClosed
		case <-l.closed:
			return nil, ErrListenerClosed
		}
	}
	for {
		if g := sh.gate(); g != nil {
			select {
			case <-g:
			case <-timeout:
				return sh.giveUp(ErrAcceptTimeout)
			case <-sh.closing:
				return sh.giveUp(ErrClosed)
			case <-l.closed:
				return sh.giveUp(ErrListenerClosed)
			}
			continue
		}
		select {
		case l.token <- struct{}{}:
		case <-timeout:
			return sh.giveUp(ErrAcceptTimeout)
		case <-sh.closing:
			return sh.giveUp(ErrClosed)
		case <-l.closed:
			return sh.giveUp(ErrListenerClosed)
		}
		c, err := sh.acceptHeld(l, deadline)
		<-l.token
		switch {
		case err == nil:
			return sh.holdWhileSuspended(c)
		case err == errSuspended || err == errRetry:
			continue
		default:
			return sh.giveUp(err)
		}
	}
}

// holdWhileSuspended keeps a connection that Accept returned after a
// Suspend until Resume, as if it were still in the kernel's backlog. The
// deadline kick cannot prevent that: the poller may report the new
// connection before the woken acceptor sees its expired deadline.
func (sh *shared) holdWhileSuspended(c net.Conn) (net.Conn, error) {
	for g := sh.gate(); g != nil; g = sh.gate() {
		select {
		case <-g:
		case <-sh.closing:
			c.Close()
			return sh.giveUp(ErrClosed)
		}
	}
	return c, nil
}

func (sh *shared) giveUp(reason error) (net.Conn, error) {
	if sh.slots != nil {
		<-sh.slots
	}
	return nil, reason
}

// acceptHeld runs while holding l.token.
func (sh *shared) acceptHeld(l *lnState, deadline time.Time) (net.Conn, error) {
	if d, ok := l.info.Listener.(deadliner); ok {
		// Set before the suspended check: a Suspend after the check kicks
		// this deadline, one before it is seen by the check.
		if l.dirty.Swap(false) || !deadline.Equal(l.deadline) {
			d.SetDeadline(deadline)
			l.deadline = deadline
		}
	}
	if sh.suspended() {
		return nil, errSuspended
	}
	select {
	case <-sh.closing:
		return nil, ErrClosed
	default:
	}
	c, err := l.info.Listener.Accept()
	if err == nil {
		l.backoff = 0
		return c, nil
	}
	switch {
	case errors.Is(err, net.ErrClosed):
		l.markClosed()
		select {
		case <-sh.closing:
			return nil, ErrClosed
		default:
			return nil, ErrListenerClosed
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		if sh.suspended() {
			return nil, errSuspended
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return nil, ErrAcceptTimeout
		}
		l.dirty.Store(true) // a stale kick: clear it
		return nil, errRetry
	}
	// Anything else (EMFILE, ENFILE, ENOBUFS, ...): the listener stays
	// open and the whole listener backs off, since the token is held.
	if l.backoff == 0 {
		l.backoff = minAcceptBackoff
	} else if l.backoff *= 2; l.backoff > maxAcceptBackoff {
		l.backoff = maxAcceptBackoff
	}
	sh.spec.Logger.Warn("acceptor: accept error; backing off", "id", sh.spec.ID,
		"listener", l.info.Addr, "err", err, "backoff", l.backoff)
	t := time.NewTimer(l.backoff)
	defer t.Stop()
	select {
	case <-t.C:
		return nil, errRetry
	case <-sh.closing:
		return nil, ErrClosed
	case <-l.closed:
		return nil, ErrListenerClosed
	}
}
