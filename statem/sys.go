package statem

import (
	"context"
	"fmt"
	"time"
	"unsafe"
)

// sysReq is a system message (OTP sys): a function run on the machine's
// goroutine between events, even while the machine is suspended.
type sysReq struct {
	fn     func() error
	done   chan error // capacity 1: the machine never blocks on it
	reason error      // for Stop
}

// sys runs fn on the machine's goroutine and waits for it. If ctx ends
// first, fn may still run later; its result is then dropped.
func (m *Machine[S, D]) sys(ctx context.Context, fn func() error) error {
	if m.isSelf(ctx) {
		return ErrCalledSelf
	}
	req := &sysReq{fn: fn, done: make(chan error, 1)}
	if !m.mb.put(envelope{kind: msgSys, ref: unsafe.Pointer(req)}) {
		return m.exitErr()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		select {
		case err := <-req.done:
			return err
		default:
			return &ExitError{Reason: m.err}
		}
	}
}

// GetState returns the current state and data (OTP sys:get_state). Like
// every system request it is handled between events, also while the
// machine is suspended. The data is shared, not copied: if D holds
// pointers, do not use them concurrently with the machine.
func (m *Machine[S, D]) GetState(ctx context.Context) (S, D, error) {
	var s S
	var d D
	err := m.sys(ctx, func() error {
		s, d = m.state, m.data
		return nil
	})
	if err != nil {
		var zs S
		var zd D
		return zs, zd, err
	}
	return s, d, nil
}

// ReplaceState replaces state and data with f's result, computed on the
// machine's goroutine (OTP sys:replace_state). It is not a transition: no
// enter call, no retry of postponed events, no time-out cancelled. If f
// panics the machine keeps its state and ReplaceState returns the panic
// as a *PanicError.
func (m *Machine[S, D]) ReplaceState(ctx context.Context, f func(S, D) (S, D)) error {
	return m.sys(ctx, func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = &PanicError{Value: r}
			}
		}()
		s, d := f(m.state, m.data)
		m.state, m.data = s, d
		return nil
	})
}

// Suspend makes the machine handle only system requests (OTP
// sys:suspend): calls, casts, infos and time-outs wait, in order, until
// Resume. It takes effect once the events already inserted or retried
// have been handled. GetState, ReplaceState, Status, Resume and Stop still
// work. Suspending a suspended machine does nothing.
func (m *Machine[S, D]) Suspend(ctx context.Context) error {
	return m.sys(ctx, func() error {
		m.suspended = true
		return nil
	})
}

// Resume undoes Suspend; resuming a running machine does nothing.
func (m *Machine[S, D]) Resume(ctx context.Context) error {
	return m.sys(ctx, func() error {
		m.suspended = false
		return nil
	})
}

// Status returns a snapshot of the machine (OTP sys:get_status), through
// the handler's FormatStatus if it has one.
func (m *Machine[S, D]) Status(ctx context.Context) (Status[S, D], error) {
	var st Status[S, D]
	err := m.sys(ctx, func() error {
		st = m.formatStatus(m.status())
		return nil
	})
	return st, err
}

// status builds the raw snapshot; it runs on the machine's goroutine.
func (m *Machine[S, D]) status() Status[S, D] {
	st := Status[S, D]{
		State:     m.state,
		Data:      m.data,
		Queue:     len(m.queue) + len(m.t0q) + len(m.held) - m.hi + m.in.left + m.mb.len(),
		Postponed: len(m.postponed),
		Suspended: m.suspended,
		Log:       m.logged(),
	}
	if m.opts.named {
		st.Name = m.opts.name
	}
	now := time.Now()
	add := func(kind EventType) {
		for _, e := range m.timers {
			if e.kind != kind {
				continue
			}
			r := e.deadline.Sub(now)
			if r < 0 || e.inT0q {
				r = 0
			}
			st.Timeouts = append(st.Timeouts, TimeoutStatus{Type: e.kind, Name: e.name, Remaining: r, Content: e.content})
		}
	}
	add(EventTimeout)
	add(StateTimeout)
	add(GenericTimeout)
	return st
}

// formatStatus passes st through the handler's FormatStatus; if that
// panics, State and Data are zeroed instead (never leak what the
// formatter meant to hide).
func (m *Machine[S, D]) formatStatus(st Status[S, D]) (out Status[S, D]) {
	if m.fmtr == nil {
		return st
	}
	defer func() {
		if r := recover(); r != nil {
			var zs S
			var zd D
			st.State, st.Data = zs, zd
			out = st
		}
	}()
	return m.fmtr.FormatStatus(st)
}

// String renders a status for logs.
func (st Status[S, D]) String() string {
	return fmt.Sprintf("state=%v queue=%d postponed=%d suspended=%v timeouts=%v",
		st.State, st.Queue, st.Postponed, st.Suspended, st.Timeouts)
}
