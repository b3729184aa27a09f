package statem

import (
	"context"
	"fmt"
)

// Handler is the callback module of a machine (OTP handle_event_function
// mode): one method for all states. S is the state, compared with == to
// detect state changes; D is the data, which never triggers anything.
//
// All methods run on the machine's own goroutine, one at a time, so the
// handler needs no locking for its own state. A handler may block, but
// while it does the machine handles nothing else (not even GetState or
// Stop): hand long work to another goroutine and Cast the result back.
type Handler[S comparable, D any] interface {
	// Init returns the initial state, data and actions; it runs inside
	// Start, which waits for it. Return ErrIgnore (or an error wrapping it)
	// to make Start return ErrIgnore without a machine, or any other error
	// to make Start fail with it. Terminate is not called in either case.
	// Postpone actions from Init are ignored. ctx carries the values of
	// Start's ctx and is cancelled when Start returns (at the latest when
	// the start times out): goroutines that should live as long as the
	// machine must use the ctx of HandleEvent.
	Init(ctx context.Context) (S, D, []Action, error)
	// HandleEvent handles one event in state s with data d. ctx carries the
	// machine's identity (a Call, Stop or system request on the machine
	// itself with this ctx fails with ErrCalledSelf instead of
	// deadlocking; with another ctx it deadlocks) and is cancelled by Stop
	// and when the machine has ended.
	HandleEvent(ctx context.Context, ev Event, s S, d D) Result[S, D]
}

// Terminator is implemented by handlers that want to clean up. Terminate
// runs on the machine's goroutine after a Stop result, a Machine.Stop, a
// panic in a callback or an invalid result, with the exit reason; it does
// not run after Init failed or returned ErrIgnore, nor after a start
// time-out. A panic in Terminate is recovered and becomes the exit reason.
type Terminator[S comparable, D any] interface {
	Terminate(reason error, s S, d D)
}

// StatusFormatter is implemented by handlers whose state or data should
// not be shown verbatim (secrets, huge buffers). FormatStatus runs on the
// machine's goroutine for Machine.Status and for the crash log; it may
// change any field of the snapshot. If it panics the snapshot is used with
// State and Data zeroed.
type StatusFormatter[S comparable, D any] interface {
	FormatStatus(Status[S, D]) Status[S, D]
}

// StateFunc handles the events of one state (OTP state_functions mode).
type StateFunc[S comparable, D any] func(ctx context.Context, ev Event, d D) Result[S, D]

// StateFuncs is a Handler made of one function per state. It implements
// Handler and Terminator. An event in a state with no function stops the
// machine with a *BadResultError.
type StateFuncs[S comparable, D any] struct {
	// InitFunc is Handler.Init; it is required.
	InitFunc func(ctx context.Context) (S, D, []Action, error)
	// States maps each state to its function.
	States map[S]StateFunc[S, D]
	// TerminateFunc is optional.
	TerminateFunc func(reason error, s S, d D)
}

// Init calls InitFunc.
func (sf StateFuncs[S, D]) Init(ctx context.Context) (S, D, []Action, error) {
	if sf.InitFunc == nil {
		var s S
		var d D
		return s, d, nil, fmt.Errorf("statem: StateFuncs without InitFunc")
	}
	return sf.InitFunc(ctx)
}

// HandleEvent calls the function of state s.
func (sf StateFuncs[S, D]) HandleEvent(ctx context.Context, ev Event, s S, d D) Result[S, D] {
	f := sf.States[s]
	if f == nil {
		return Result[S, D]{kind: resInvalid, reason: fmt.Errorf("no state function for state %v", s)}
	}
	return f(ctx, ev, d)
}

// Terminate calls TerminateFunc if it is set.
func (sf StateFuncs[S, D]) Terminate(reason error, s S, d D) {
	if sf.TerminateFunc != nil {
		sf.TerminateFunc(reason, s, d)
	}
}
