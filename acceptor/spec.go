package acceptor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// Acceptor is the per-goroutine callback set (acceptor_pool's acceptor
// behaviour). Spec.New makes one value per acceptor goroutine, so an
// Acceptor may keep per-connection state in its fields without locking.
type Acceptor interface {
	// Init runs in the acceptor goroutine before it waits for a connection
	// (acceptor_init). Returning ErrIgnore ends this acceptor quietly and
	// starts a replacement without counting a restart; any other error (or
	// a panic) counts toward the restart intensity, whatever Spec.Restart
	// says. ctx is cancelled when the pool stops its connections.
	Init(ctx context.Context, ln ListenerInfo) (Options, error)
	// Continue runs in the goroutine that accepted c, which becomes the
	// connection goroutine (acceptor_continue): the pool has already started
	// a replacement acceptor. Protocol work such as a handshake belongs here,
	// under the handler's own deadline, so a slow client never holds up an
	// acceptor. The returned error is the exit reason (see Quiet). ctx is
	// cancelled in the second stage of a shutdown; Draining(ctx) is closed
	// at its first stage. The pool closes c after Continue returns.
	Continue(ctx context.Context, c net.Conn) error
}

// Terminator is optionally implemented by an Acceptor that wants to know
// why it ended before a hand-off (acceptor_terminate): ErrAcceptTimeout,
// ErrListenerClosed or ErrClosed. It is never called after Continue.
type Terminator interface {
	Terminate(reason error)
}

// Options is what Init returns.
type Options struct {
	// AcceptTimeout ends this acceptor (ErrAcceptTimeout, not counted) when
	// no connection arrived within it, and the pool starts a replacement.
	// Zero waits forever. The wait for a connection slot (Spec.MaxConns) or
	// for Resume counts toward it; the Accept call itself can only be
	// interrupted on listeners with a SetDeadline method (net.TCPListener,
	// net.UnixListener).
	AcceptTimeout time.Duration
}

// Func adapts a plain connection handler to Spec.New: Init returns zero
// Options and Continue calls f.
func Func(f func(ctx context.Context, c net.Conn) error) func() Acceptor {
	return func() Acceptor { return funcAcceptor(f) }
}

type funcAcceptor func(ctx context.Context, c net.Conn) error

func (funcAcceptor) Init(context.Context, ListenerInfo) (Options, error) { return Options{}, nil }
func (f funcAcceptor) Continue(ctx context.Context, c net.Conn) error    { return f(ctx, c) }

// Restart says whether abnormal connection exits count toward the restart
// intensity. Connections are never restarted (as in acceptor_pool, which
// has no permanent type).
type Restart uint8

const (
	// Temporary connections never count toward the intensity (the default).
	Temporary Restart = iota
	// Transient connections count when they exit with a non-quiet reason.
	Transient
)

// String returns "temporary" or "transient".
func (r Restart) String() string {
	if r == Transient {
		return "transient"
	}
	return "temporary"
}

const (
	// BrutalKill as Spec.Shutdown cancels and closes every connection as
	// soon as the grace period ends.
	BrutalKill time.Duration = -1
	// Infinity as Spec.Grace or Spec.Shutdown means no timer: wait until
	// the connections return (bounded only by the caller's Shutdown ctx).
	Infinity time.Duration = math.MaxInt64
)

// Spec configures a pool. The zero value of every field but New is a
// sensible default.
type Spec struct {
	// ID names the connections in Children (acceptor_pool's spec id).
	ID string
	// New makes the callbacks for one acceptor goroutine. Required.
	New func() Acceptor
	// Restart decides whether abnormal connection exits count.
	Restart Restart
	// Intensity and Period: more than Intensity counted events within
	// Period stop the pool with an *IntensityError. Intensity 0 means the
	// default 1; a negative Intensity means 0 (the first counted event
	// stops the pool). Period 0 means 5s.
	Intensity int
	Period    time.Duration
	// Grace is how long Shutdown waits, after closing the listeners and
	// signalling Draining, before it cancels the connections' contexts.
	// Zero (the default) cancels at once.
	Grace time.Duration
	// Shutdown is how long the pool waits after cancelling the contexts
	// before it closes the sockets. Zero means 5s; BrutalKill closes them
	// at once; Infinity never.
	Shutdown time.Duration
	// Abandon is how long the pool waits after closing the sockets before
	// it gives up on goroutines that still have not returned and stops with
	// a *ShutdownError naming them. Zero means 5s.
	Abandon time.Duration
	// MaxConns bounds the handed-off connections (Ranch's max_connections,
	// but exact: an acceptor takes a slot before it accepts, so the count
	// never exceeds it). Acceptors wait while the pool is full. Zero means
	// no limit.
	MaxConns int
	// Logger receives reports of abnormal exits, panics (with stack) and
	// accept errors. Nil means slog.Default().
	Logger *slog.Logger
}

func (s Spec) withDefaults() (Spec, error) {
	if s.New == nil {
		return s, fmt.Errorf("%w: Spec.New is required", ErrBadSpec)
	}
	if s.Restart > Transient {
		return s, fmt.Errorf("%w: Restart %d", ErrBadSpec, s.Restart)
	}
	if s.Period < 0 || s.Grace < 0 || s.Abandon < 0 || s.MaxConns < 0 ||
		(s.Shutdown < 0 && s.Shutdown != BrutalKill) {
		return s, fmt.Errorf("%w: negative duration or MaxConns", ErrBadSpec)
	}
	switch {
	case s.Intensity == 0:
		s.Intensity = 1
	case s.Intensity < 0:
		s.Intensity = 0
	}
	if s.Period == 0 {
		s.Period = 5 * time.Second
	}
	if s.Shutdown == 0 {
		s.Shutdown = 5 * time.Second
	}
	if s.Abandon == 0 {
		s.Abandon = 5 * time.Second
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	return s, nil
}

// Ref identifies a listener within its pool.
type Ref uint64

// ListenerInfo describes a listener the pool accepts on (which_sockets).
type ListenerInfo struct {
	Ref       Ref
	Addr      net.Addr
	Acceptors int          // acceptors kept waiting on it
	Listener  net.Listener // owned by the pool: do not close it yourself unless you mean to stop accepting on it
}

// Child describes one handed-off connection (which_children). Acceptors
// still waiting for a connection are not children.
type Child struct {
	ID       string   // Spec.ID
	Seq      uint64   // unique within the pool; ShutdownError uses it too
	Peer     net.Addr // remote address
	Local    net.Addr // the accepted socket's local address (the real interface)
	Listener Ref
	Since    time.Time
}

// Counts is count_children: Specs is always 1, Active the handed-off
// connections, Acceptors the goroutines waiting to accept, and Workers
// their sum.
type Counts struct {
	Specs, Active, Acceptors, Workers int
}

var (
	// ErrClosed is returned by pool methods after Shutdown or Close began,
	// is Err() after a requested shutdown, and is the reason an acceptor
	// ends with when the pool shuts down.
	ErrClosed = errors.New("acceptor: pool closed")
	// ErrShutdown marks an exit reason as a deliberate shutdown: a
	// connection returning an error that wraps it never counts (Erlang's
	// {shutdown, Reason}). See Shutdown.
	ErrShutdown = errors.New("acceptor: shutdown")
	// ErrIgnore returned by Init ends the acceptor without counting.
	ErrIgnore = errors.New("acceptor: ignore")
	// ErrAcceptTimeout is the Terminate reason after Options.AcceptTimeout.
	ErrAcceptTimeout = errors.New("acceptor: accept timeout")
	// ErrListenerClosed is the Terminate reason when the listener was
	// closed; the pool drops the listener and starts no more acceptors on it.
	ErrListenerClosed = errors.New("acceptor: listener closed")
	// ErrMaxIntensity is wrapped by *IntensityError.
	ErrMaxIntensity = errors.New("acceptor: reached max restart intensity")
	// ErrBadSpec is wrapped by Start's validation errors.
	ErrBadSpec = errors.New("acceptor: bad spec")
	// ErrShutdownTimeout is wrapped by *ShutdownError.
	ErrShutdownTimeout = errors.New("acceptor: goroutines did not return")
)

// Shutdown wraps reason as a deliberate, quiet exit reason: it satisfies
// errors.Is(err, ErrShutdown) and errors.Is(err, reason).
func Shutdown(reason error) error {
	if reason == nil {
		return ErrShutdown
	}
	return fmt.Errorf("%w: %w", ErrShutdown, reason)
}

// Quiet reports whether a connection exit reason is normal or a shutdown,
// which never counts toward the intensity and is not logged: nil, io.EOF,
// context.Canceled, net.ErrClosed, ErrClosed, ErrShutdown and statem's
// quiet reasons, or anything wrapping them.
func Quiet(reason error) bool {
	return reason == nil || errors.Is(reason, io.EOF) || errors.Is(reason, context.Canceled) ||
		errors.Is(reason, net.ErrClosed) || errors.Is(reason, ErrClosed) ||
		errors.Is(reason, ErrShutdown) || statem.IsQuiet(reason)
}

// IntensityError is the pool's exit reason when more than Intensity
// counted events happened within Period.
type IntensityError struct {
	Intensity int
	Period    time.Duration
	Last      error // the event that exceeded it
}

// Error says the intensity was reached and what happened last.
func (e *IntensityError) Error() string {
	return fmt.Sprintf("acceptor: reached max restart intensity (%d in %v); last: %v", e.Intensity, e.Period, e.Last)
}

// Unwrap makes errors.Is(err, ErrMaxIntensity) hold.
func (e *IntensityError) Unwrap() []error { return []error{ErrMaxIntensity, e.Last} }

// ShutdownError lists the goroutines that had not returned when the pool
// gave up on them (Spec.Abandon after their sockets were closed).
type ShutdownError struct {
	Stragglers []Straggler
}

// Straggler is one goroutine that did not return.
type Straggler struct {
	Seq       uint64
	HandedOff bool     // a connection (else an acceptor stuck in Init or Terminate)
	Peer      net.Addr // nil for an acceptor
}

// Error lists the stragglers.
func (e *ShutdownError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "acceptor: %d goroutines did not return:", len(e.Stragglers))
	for _, s := range e.Stragglers {
		if s.HandedOff {
			fmt.Fprintf(&b, " conn#%d(%v)", s.Seq, s.Peer)
		} else {
			fmt.Fprintf(&b, " acceptor#%d", s.Seq)
		}
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrShutdownTimeout) hold.
func (e *ShutdownError) Unwrap() error { return ErrShutdownTimeout }

// PanicError is the exit reason of a goroutine whose callback panicked.
type PanicError struct {
	Value any
	Stack []byte
}

// Error renders the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("acceptor: panic: %v", e.Value) }

type drainingKey struct{}

// Draining returns a channel closed when the pool that runs ctx's
// connection starts shutting down (the first stage: listeners closed). A
// connection should then finish what it is doing and return, as
// acceptor_pool's telnet_echo does on its listen socket's DOWN. It returns
// nil (never ready) for a ctx not from a pool.
func Draining(ctx context.Context) <-chan struct{} {
	if d, ok := ctx.Value(drainingKey{}).(context.Context); ok {
		return d.Done()
	}
	return nil
}

// DrainingContext is Draining as a context, cancelled when draining
// starts; for a ctx not from a pool it is never cancelled. It suits
// context.AfterFunc, the cheap way to interrupt a blocked Read:
//
//	stop := context.AfterFunc(acceptor.DrainingContext(ctx), func() { c.SetReadDeadline(time.Now()) })
//	defer stop()
func DrainingContext(ctx context.Context) context.Context {
	if d, ok := ctx.Value(drainingKey{}).(context.Context); ok {
		return d
	}
	return context.Background()
}
