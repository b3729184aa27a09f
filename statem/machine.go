package statem

import (
	"context"
	"errors"
)

// Machine is a running state machine: one goroutine that owns the state
// and data and handles one event at a time. All methods are safe for
// concurrent use.
type Machine[S comparable, D any] struct {
	done chan struct{}
	err  error
}

var errNotYet = errors.New("statem: not implemented yet")

// Start runs h.Init and, if it succeeds, starts the machine's goroutine.
// It is synchronous: it returns after Init. ctx only bounds the start (with
// WithStartTimeout); the machine lives until it stops. Errors: ErrIgnore,
// Init's error, *AlreadyStartedError, ErrStartTimeout, *PanicError.
func Start[S comparable, D any](ctx context.Context, h Handler[S, D], opts ...Option) (*Machine[S, D], error) {
	return nil, errNotYet
}

// Call sends req as a Call event and waits for the reply, for ctx to end
// (returning ctx.Err(); the request may still be handled later, and its
// reply is then dropped) or for the machine to end (an error satisfying
// errors.Is(err, ErrStopped)). A Call from the machine's own callback
// fails with ErrCalledSelf.
func (m *Machine[S, D]) Call(ctx context.Context, req any) (any, error) {
	return nil, errNotYet
}

// CallAs calls p and converts the reply to R; a reply of another type is an
// error.
func CallAs[R any](ctx context.Context, p Process, req any) (R, error) {
	var zero R
	v, err := p.Call(ctx, req)
	if err != nil {
		return zero, err
	}
	r, ok := v.(R)
	if !ok && v != nil {
		return zero, errors.New("statem: reply has unexpected type")
	}
	return r, nil
}

// Cast sends msg as a Cast event. It never blocks (the mailbox is
// unbounded) and fails only with ErrStopped once the machine has ended.
func (m *Machine[S, D]) Cast(msg any) error { return errNotYet }

// Send sends msg as an Info event, with the contract of Cast.
func (m *Machine[S, D]) Send(msg any) error { return errNotYet }

// Stop stops the machine with reason and waits until it has ended:
// Terminate has run and Done is closed. It works while the machine is
// suspended. It returns nil once the machine ended with this stop, an
// error satisfying errors.Is(err, ErrStopped) if it had already ended, or
// ctx.Err() if ctx ended first (the machine still stops).
func (m *Machine[S, D]) Stop(ctx context.Context, reason error) error { return errNotYet }

// Done is closed when the machine has ended: Terminate has returned and the
// name is released.
func (m *Machine[S, D]) Done() <-chan struct{} { return m.done }

// Err returns the exit reason once Done is closed (nil for a normal stop),
// and nil before.
func (m *Machine[S, D]) Err() error { return m.err }

// GetState returns the current state and data (OTP sys:get_state). It
// works while the machine is suspended.
func (m *Machine[S, D]) GetState(ctx context.Context) (S, D, error) {
	var s S
	var d D
	return s, d, errNotYet
}

// ReplaceState replaces state and data with f's result, run on the
// machine's goroutine (OTP sys:replace_state). It is not a state change:
// no enter call, no retry of postponed events, no time-out cancelled.
func (m *Machine[S, D]) ReplaceState(ctx context.Context, f func(S, D) (S, D)) error {
	return errNotYet
}

// Suspend stops the machine from handling events until Resume: calls,
// casts and time-outs wait in order. GetState, ReplaceState, Status,
// Resume and Stop still work.
func (m *Machine[S, D]) Suspend(ctx context.Context) error { return errNotYet }

// Resume undoes Suspend.
func (m *Machine[S, D]) Resume(ctx context.Context) error { return errNotYet }

// Status returns a snapshot of the machine (OTP sys:get_status).
func (m *Machine[S, D]) Status(ctx context.Context) (Status[S, D], error) {
	return Status[S, D]{}, errNotYet
}

// Counters returns the machine's statistics; it never blocks.
func (m *Machine[S, D]) Counters() Counters { return Counters{} }
