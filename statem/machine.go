package statem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Machine is a running state machine: one goroutine that owns the state
// and data and handles one event at a time. Create it with Start (the zero
// Machine is not usable). All methods are safe for concurrent use.
type Machine[S comparable, D any] struct {
	h    Handler[S, D]
	term Terminator[S, D]      // nil if h does not implement it
	fmtr StatusFormatter[S, D] // nil if h does not implement it
	opts options

	mb     mailbox
	done   chan struct{} // closed when the machine has ended
	err    error         // exit reason, written before done is closed
	ctx    context.Context
	cancel context.CancelFunc
	// startState: 0 while Init runs, 1 once the start completed, 2 if
	// Start gave up waiting (start time-out).
	startState atomic.Int32
	ending     atomic.Pointer[error] // exit reason, set before the mailbox closes
	cnt        counters
	slots      sync.Pool // of *callSlot, reused by Call

	// Owned by the machine's goroutine.
	state     S
	data      D
	queue     []Event // inserted and retried events; the top is next
	postponed []Event // in arrival order
	t0q       []*timerEntry
	timers    []*timerEntry
	in        inbox      // messages taken from the mailbox
	held      []envelope // external messages held back while suspended
	hi        int        // next unread index in held
	suspended bool
	nextEvs   []Event      // scratch: NextEvent actions of one transition
	touts     []Action     // scratch: time-out actions of one transition
	zeros     []int        // scratch: indexes of zero time-outs in touts
	log       []TraceEvent // the last trace events (WithLog), a ring from logHead once full
	logHead   int          // the oldest entry of a full log
	watch     *watchers    // tracers added while running (Watch)

	// Set when the machine is about to end.
	exitReason    error
	exitTerminate bool
	exitState     S
	exitData      D
	stopReq       *sysReq // the Stop that ended the machine, if any
	termPanic     error   // Terminate's panic, if any
	// State and data of a running enter call, for the crash report.
	inEnter    bool
	enterState S
	enterData  D
}

// counters: each event adds to exactly one of queued, timeouts and
// received (one atomic add per event); Events is their sum.
type counters struct {
	queued, enters, changes, postponed, replies, timeouts, received atomic.Uint64
}

// selfKey marks the contexts passed to a machine's callbacks with the
// machine, so that it cannot call (and deadlock) itself.
type selfKey struct{}

func (m *Machine[S, D]) isSelf(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	p, _ := ctx.Value(selfKey{}).(Process)
	return p == Process(m)
}

type initResult struct{ err error }

// Start runs h.Init and, if it succeeds, starts the machine's goroutine.
// It is synchronous: it returns after Init. ctx only bounds the start
// (together with WithStartTimeout); the machine lives until it stops.
// Values of ctx are visible to the callbacks, its cancellation is not.
//
// Errors: an *AlreadyStartedError if the name is taken (Init does not
// run); ErrIgnore if Init returned it; Init's own error, as is; a
// *PanicError if Init panicked; ErrStartTimeout (wrapping
// context.DeadlineExceeded) if Init overran the start time-out or ctx's
// deadline, or ctx.Err() if ctx was cancelled. Go cannot kill a goroutine:
// after a start time-out Init keeps running, with its ctx cancelled, and
// the machine ends (without Terminate) as soon as Init returns.
func Start[S comparable, D any](ctx context.Context, h Handler[S, D], opts ...Option) (*Machine[S, D], error) {
	if h == nil {
		return nil, errors.New("statem: Start with a nil Handler")
	}
	m := &Machine[S, D]{h: h, done: make(chan struct{})}
	for _, o := range opts {
		o(&m.opts)
	}
	if n := m.opts.logN; n > 0 {
		// The log is a tracer in front of the user's one. It grows as
		// events come: a machine that handled two events holds two.
		user := m.opts.tracer
		m.opts.tracer = func(te TraceEvent) {
			if len(m.log) < n {
				m.log = append(m.log, te)
			} else {
				m.log[m.logHead] = te
				m.logHead = (m.logHead + 1) % n
			}
			if user != nil {
				user(te)
			}
		}
	}
	m.term, _ = h.(Terminator[S, D])
	m.fmtr, _ = h.(StatusFormatter[S, D])
	m.mb.signal = make(chan struct{}, 1)
	// Set up everything a client may touch before the name makes the
	// machine reachable.
	m.ctx, m.cancel = context.WithCancel(context.WithValue(context.WithoutCancel(ctx), selfKey{}, Process(m)))
	if m.opts.named {
		if err := m.opts.reg.Register(m.opts.name, m); err != nil {
			m.cancel()
			return nil, err
		}
	}
	var startCtx context.Context
	var cancelStart context.CancelFunc
	if m.opts.startTimeout > 0 {
		startCtx, cancelStart = context.WithTimeout(ctx, m.opts.startTimeout)
	} else {
		startCtx, cancelStart = context.WithCancel(ctx)
	}
	defer cancelStart()
	initCtx := context.WithValue(startCtx, selfKey{}, Process(m))
	res := make(chan initResult, 1)
	go m.run(initCtx, res)
	select {
	case r := <-res:
		if r.err != nil {
			return nil, r.err
		}
		return m, nil
	case <-startCtx.Done():
		if !m.startState.CompareAndSwap(0, 2) {
			// Init returned at the same moment: honour its result.
			if r := <-res; r.err != nil {
				return nil, r.err
			}
			return m, nil
		}
		if err := ctx.Err(); errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("statem: start: %w", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrStartTimeout, context.DeadlineExceeded)
	}
}

// callInit runs Init, turning a panic into a *PanicError.
func (m *Machine[S, D]) callInit(ctx context.Context) (s S, d D, acts []Action, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return m.h.Init(ctx)
}

// run is the machine's goroutine.
func (m *Machine[S, D]) run(initCtx context.Context, res chan<- initResult) {
	s, d, acts, err := m.callInit(initCtx)
	if !m.startState.CompareAndSwap(0, 1) {
		// Start gave up: end without Terminate.
		m.exit(ErrStartTimeout, false, s, d)
		m.finishQuiet(true)
		return
	}
	if err != nil {
		if errors.Is(err, ErrIgnore) {
			err = ErrIgnore
		}
		var pe *PanicError
		quiet := !errors.As(err, &pe)
		m.exit(err, false, s, d)
		m.finishQuiet(quiet)
		res <- initResult{err: err}
		return
	}
	m.state, m.data = s, d
	res <- initResult{}
	defer func() { m.finish(recover()) }()
	init := Next(s, d, acts...)
	if m.transition(nil, &init) {
		m.loop()
	}
}

// finish ends the machine: it is called once, on the machine's goroutine,
// with the value of recover() if the loop panicked.
func (m *Machine[S, D]) finish(panicked any) {
	if panicked != nil {
		s, d := m.state, m.data
		if m.inEnter {
			s, d = m.enterState, m.enterData
		}
		m.exit(&PanicError{Value: panicked, Stack: debug.Stack()}, true, s, d)
	}
	m.finishQuiet(false)
}

func (m *Machine[S, D]) finishQuiet(quiet bool) {
	r := m.exitReason
	m.ending.Store(&r)
	m.mb.close()
	m.stopTimers()
	m.in.drop()
	clear(m.held)
	clear(m.queue)
	clear(m.postponed)
	m.held, m.queue, m.postponed = nil, nil, nil
	reason := m.exitReason
	if m.exitTerminate {
		if m.opts.tracer != nil {
			safely(func() { m.opts.tracer(TraceEvent{Kind: TraceTerminate, State: m.exitState, Reason: reason}) })
		}
		if m.term != nil {
			if perr := m.callTerminate(reason); perr != nil {
				reason, m.termPanic = perr, perr
			}
		}
	}
	if !quiet && !IsQuiet(reason) && !errors.Is(reason, ErrIgnore) {
		safely(func() { m.logExit(reason) })
	}
	if m.opts.named {
		safely(func() { m.opts.reg.Unregister(m.opts.name, m) })
	}
	var zs S
	var zd D
	m.state, m.data, m.exitState, m.exitData = zs, zd, zs, zd
	m.err = reason
	m.cancel()
	close(m.done)
}

// safely runs f, user code on the way out (tracer, logger, registry), and
// ignores a panic: the machine must still end and close Done.
func safely(f func()) {
	defer func() { _ = recover() }()
	f()
}

// callTerminate runs Terminate; a panic becomes the exit reason.
func (m *Machine[S, D]) callTerminate(reason error) (perr error) {
	defer func() {
		if r := recover(); r != nil {
			perr = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	m.term.Terminate(reason, m.exitState, m.exitData)
	return nil
}

func (m *Machine[S, D]) logExit(reason error) {
	l := m.opts.logger
	if l == nil {
		l = slog.Default()
	}
	st := m.formatStatus(Status[S, D]{Name: m.opts.name, State: m.exitState, Data: m.exitData})
	attrs := []any{"reason", reason, "state", st.State}
	if m.opts.named {
		attrs = append(attrs, "name", m.opts.name)
	}
	var pe *PanicError
	if errors.As(reason, &pe) {
		attrs = append(attrs, "stack", string(pe.Stack))
	}
	if log := m.logged(); len(log) > 0 {
		lines := make([]string, len(log))
		for i, te := range log {
			lines[i] = te.String()
		}
		attrs = append(attrs, "log", lines)
	}
	l.Error("statem: machine terminated", attrs...)
}

// exitErr is the error for an operation on a machine that has ended or
// is ending.
func (m *Machine[S, D]) exitErr() error {
	select {
	case <-m.done:
		return &ExitError{Reason: m.err}
	default:
		// Terminate is still running; it may be the caller.
		if r := m.ending.Load(); r != nil {
			return &ExitError{Reason: *r}
		}
		return &ExitError{}
	}
}

// Call sends req as a Call event and waits for the reply. It returns the
// reply; ctx.Err() if ctx ends first (the request may still be handled
// later, and its reply is then dropped; if ctx has already ended, nothing
// is sent); an error satisfying
// errors.Is(err, ErrStopped) (an *ExitError carrying the exit reason) if
// the machine has ended or ends before answering; ErrCalledSelf when
// called with the ctx of the machine's own callback. While the machine is
// suspended, Call waits.
func (m *Machine[S, D]) Call(ctx context.Context, req any) (any, error) {
	if m.isSelf(ctx) {
		return nil, ErrCalledSelf
	}
	if err := ctx.Err(); err != nil {
		return nil, err // not sent
	}
	slot := getCallSlot(&m.slots)
	gen := slot.gen
	if !m.mb.putCall(envelope{kind: msgCall, msg: req, ref: unsafe.Pointer(slot)}, slot) {
		return nil, m.exitErr()
	}
	var r reply
	if done := ctx.Done(); done == nil {
		r = <-slot.ch
	} else {
		select {
		case r = <-slot.ch:
		case <-done:
			if slot.abandon(gen) {
				// Not reused: the envelope may still be in the mailbox.
				return nil, ctx.Err()
			}
			r = <-slot.ch // a reply won the race and is in the channel
		}
	}
	if r.err == errEnded {
		// As in OTP, the caller learns of the end once the machine is
		// gone, after Terminate.
		<-m.done
		return nil, &ExitError{Reason: m.err}
	}
	// The call's envelope was consumed (only a dequeued call has a From
	// that can answer it): the slot can serve another call.
	m.slots.Put(slot)
	return r.v, r.err
}

// CallAs calls p and converts the reply to R. A reply of another type is
// an error; a nil reply gives R's zero value.
func CallAs[R any](ctx context.Context, p Process, req any) (R, error) {
	var zero R
	v, err := p.Call(ctx, req)
	if err != nil {
		return zero, err
	}
	if v == nil {
		return zero, nil
	}
	r, ok := v.(R)
	if !ok {
		return zero, fmt.Errorf("statem: reply of type %T, want %T", v, zero)
	}
	return r, nil
}

// Cast sends msg as a Cast event. It never blocks (the mailbox is
// unbounded) and fails only with ErrStopped once the machine has ended.
func (m *Machine[S, D]) Cast(msg any) error {
	if !m.mb.put(envelope{kind: msgCast, msg: msg}) {
		return ErrStopped
	}
	return nil
}

// Send sends msg as an Info event, with the contract of Cast.
func (m *Machine[S, D]) Send(msg any) error {
	if !m.mb.put(envelope{kind: msgInfo, msg: msg}) {
		return ErrStopped
	}
	return nil
}

// Stop stops the machine with reason and waits until it has ended. It
// cancels the context passed to callbacks at once, so that a callback
// blocked on it returns; the stop itself is handled like a system message:
// after the events already inserted or retried, and also while suspended.
// Terminate(reason, state, data) then runs, the name is released and Done
// is closed.
//
// Stop returns nil once the machine ended by this stop, Terminate's panic
// as a *PanicError if Terminate panicked, an error satisfying
// errors.Is(err, ErrStopped) if the machine had ended otherwise,
// ErrCalledSelf from the machine's own callback, or ctx.Err() if ctx ends
// first (the machine still stops).
func (m *Machine[S, D]) Stop(ctx context.Context, reason error) error {
	if m.isSelf(ctx) {
		return ErrCalledSelf
	}
	req := &sysReq{reason: reason}
	if !m.mb.put(envelope{kind: msgStop, ref: unsafe.Pointer(req)}) {
		return m.exitErr()
	}
	m.cancel()
	select {
	case <-m.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if m.stopReq != req {
		return &ExitError{Reason: m.err}
	}
	return m.termPanic
}

// Done is closed when the machine has ended: Terminate has returned and the
// name is released.
func (m *Machine[S, D]) Done() <-chan struct{} { return m.done }

// Err returns the exit reason once Done is closed (nil for a normal stop),
// and nil before.
func (m *Machine[S, D]) Err() error {
	select {
	case <-m.done:
		return m.err
	default:
		return nil
	}
}

// Counters returns the machine's statistics; it never blocks.
func (m *Machine[S, D]) Counters() Counters {
	return Counters{
		Events:       m.cnt.queued.Load() + m.cnt.timeouts.Load() + m.cnt.received.Load(),
		Enters:       m.cnt.enters.Load(),
		StateChanges: m.cnt.changes.Load(),
		Postponed:    m.cnt.postponed.Load(),
		Replies:      m.cnt.replies.Load(),
		Timeouts:     m.cnt.timeouts.Load(),
		Received:     m.cnt.received.Load(),
	}
}
