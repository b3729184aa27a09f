package statem

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Inspectable is what a tool that lists machines (a daemon's processes
// view, a debugger) sees of one, whatever its state and data types.
// *Machine[S, D] implements it; so does anything that hands out a machine
// through it without giving callers the power to stop it.
type Inspectable interface {
	// Inspect returns a rendered snapshot of the machine (see Snapshot).
	Inspect(ctx context.Context) (Snapshot, error)
	// Watch calls fn with every trace event from now on until the
	// returned unwatch is called or the machine ends (see Machine.Watch).
	Watch(ctx context.Context, fn func(TraceEvent)) (unwatch func(), err error)
	// Counters returns the machine's statistics; it never blocks.
	Counters() Counters
	// Done is closed when the machine has ended.
	Done() <-chan struct{}
}

var _ Inspectable = (*Machine[int, int])(nil)

// Snapshot is a machine's status rendered as text on its own goroutine, so
// that nothing in it is shared with the machine: safe to keep, encode and
// show from any goroutine. Values are rendered by Describe (bounded).
type Snapshot struct {
	// Name is the registered name, "" when none.
	Name string `json:"name,omitempty"`
	// State is the current state (through the handler's FormatStatus).
	State string `json:"state"`
	// Queue and Postponed are as in Status.
	Queue     int  `json:"queue"`
	Postponed int  `json:"postponed"`
	Suspended bool `json:"suspended,omitempty"`
	// Timeouts are the running time-outs, as in Status.
	Timeouts []TimeoutSnapshot `json:"timeouts,omitempty"`
	// Log is the machine's last trace events (WithLog), oldest first, each
	// rendered by TraceEvent.Summary.
	Log []string `json:"log,omitempty"`
	// Counters are the machine's statistics when the snapshot was taken.
	Counters Counters `json:"counters"`
}

// TimeoutSnapshot is one running time-out, rendered.
type TimeoutSnapshot struct {
	Type      string        `json:"type"`
	Name      string        `json:"name,omitempty"`
	Remaining time.Duration `json:"remaining_ns"`
	Content   string        `json:"content,omitempty"`
}

// Inspect returns a rendered snapshot of the machine: its state, queue,
// time-outs and log, taken between events on the machine's goroutine (like
// Status, also while suspended) and rendered there by Describe, through
// the handler's FormatStatus if it has one. It fails like Status: the
// machine's exit error, or ctx.Err() if ctx ends first.
func (m *Machine[S, D]) Inspect(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	err := m.sys(ctx, func() error {
		st := m.formatStatus(m.status())
		snap = Snapshot{
			State:     Describe(st.State),
			Queue:     st.Queue,
			Postponed: st.Postponed,
			Suspended: st.Suspended,
			Counters:  m.Counters(),
		}
		if st.Name != nil {
			snap.Name = Describe(st.Name)
		}
		for _, t := range st.Timeouts {
			snap.Timeouts = append(snap.Timeouts, TimeoutSnapshot{
				Type: t.Type.String(), Name: Describe(t.Name), Remaining: t.Remaining, Content: Describe(t.Content),
			})
		}
		for _, te := range st.Log {
			snap.Log = append(snap.Log, te.Summary())
		}
		return nil
	})
	return snap, err
}

// watchers are the tracers Watch added to a running machine; only the
// machine's goroutine touches them.
type watchers struct {
	base func(TraceEvent) // the tracer the machine had before (WithTracer, WithLog)
	ws   []*watcher
}

type watcher struct {
	fn  func(TraceEvent)
	off atomic.Bool // set by unwatch: no more calls, even before the removal runs
}

// Watch adds a tracer to the running machine (OTP sys:trace switched on
// at run time): fn sees every event, postpone, transition, Reply action
// and the termination from now on, synchronously on the machine's
// goroutine, exactly like a WithTracer hook, which keeps working beside
// it. fn must not block or call the machine; render what it needs there
// (TraceEvent.Summary) and hand it off without waiting. Several watchers
// may watch one machine. A machine nobody watches pays nothing for this.
//
// unwatch removes fn: no call of fn starts after unwatch returns (one
// already running may finish). It never blocks and may be called more
// than once. Watch fails with the machine's exit error once it has ended,
// or ctx.Err().
func (m *Machine[S, D]) Watch(ctx context.Context, fn func(TraceEvent)) (unwatch func(), err error) {
	if fn == nil {
		return nil, fmt.Errorf("statem: Watch with a nil func")
	}
	w := &watcher{fn: fn}
	err = m.sys(ctx, func() error {
		if m.watch == nil {
			m.watch = &watchers{base: m.opts.tracer}
			m.opts.tracer = m.traceWatched
		}
		m.watch.ws = append(m.watch.ws, w)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func() {
		if w.off.Swap(true) {
			return
		}
		// Removed between events, without waiting for it: a busy (or
		// ended) machine must not hold up the watcher leaving.
		req := &sysReq{fn: func() error { m.unwatch(w); return nil }, done: make(chan error, 1)}
		m.mb.put(envelope{kind: msgSys, ref: unsafe.Pointer(req)})
	}, nil
}

// traceWatched is the machine's tracer while someone watches it.
func (m *Machine[S, D]) traceWatched(te TraceEvent) {
	ws := m.watch
	if ws.base != nil {
		ws.base(te)
	}
	for _, w := range ws.ws {
		if !w.off.Load() {
			w.fn(te)
		}
	}
}

// unwatch removes w; the last one gone, the machine's own tracer is back.
func (m *Machine[S, D]) unwatch(w *watcher) {
	if m.watch == nil {
		return
	}
	ws := m.watch.ws
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	m.watch.ws = ws
	if len(ws) == 0 {
		m.opts.tracer = m.watch.base
		m.watch = nil
	}
}

// logged returns the log (WithLog), oldest first; nil when empty.
func (m *Machine[S, D]) logged() []TraceEvent {
	if len(m.log) == 0 {
		return nil
	}
	out := make([]TraceEvent, 0, len(m.log))
	out = append(out, m.log[m.logHead:]...)
	return append(out, m.log[:m.logHead]...)
}

// DescribeLimit is the longest text Describe returns, in bytes.
const DescribeLimit = 160

// Describe renders a state, event content or time-out content for people,
// in at most DescribeLimit bytes, without following pointers into data
// other goroutines may be changing: nil is "", strings, numbers and
// booleans are shown as values, errors and fmt.Stringers by their text,
// and anything else by its type (such as "*session.block" or
// "session.evAddPeers"). A String or Error method that panics shows as
// the type. Call it where the value is safe to read (for a machine's
// values, on its goroutine: in a tracer, or through Inspect).
func Describe(v any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("%T", v)
		}
	}()
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return clip(strconv.Quote(clip(x)))
	case error:
		return clip(x.Error())
	case fmt.Stringer:
		return clip(x.String())
	case bool:
		return strconv.FormatBool(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
	case reflect.String:
		return clip(strconv.Quote(clip(rv.String())))
	case reflect.Struct:
		if rv.NumField() == 0 {
			return fmt.Sprintf("%T{}", v)
		}
	}
	return fmt.Sprintf("%T", v)
}

// clip cuts s to DescribeLimit bytes, on a rune boundary, marking the cut.
func clip(s string) string {
	if len(s) <= DescribeLimit {
		return s
	}
	cut := DescribeLimit - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Summary renders the trace event on one line like String, but with every
// value passed through Describe: bounded, and without reading through
// pointers. Call it where String would be safe (on the machine's
// goroutine, in a tracer) or on a copy whose values are no longer shared.
func (t TraceEvent) Summary() string {
	ev := t.Event.Type.String()
	if t.Kind != TraceTerminate {
		if t.Event.Type == GenericTimeout {
			ev += " " + Describe(t.Event.Name)
		}
		if c := Describe(t.Event.Content); c != "" {
			ev += " " + c
		}
	}
	switch t.Kind {
	case TraceTransition:
		return fmt.Sprintf("%v {%s} %s -> %s", t.Kind, ev, Describe(t.State), Describe(t.NextState))
	case TraceReply:
		if t.ReplyErr != nil {
			return fmt.Sprintf("%v error %s", t.Kind, Describe(t.ReplyErr))
		}
		return fmt.Sprintf("%v %s", t.Kind, Describe(t.Reply))
	case TraceTerminate:
		return fmt.Sprintf("%v %s %s", t.Kind, Describe(t.State), Describe(t.Reason))
	default:
		return fmt.Sprintf("%v {%s} %s", t.Kind, ev, Describe(t.State))
	}
}
