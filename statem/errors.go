package statem

import (
	"errors"
	"fmt"
)

var (
	// ErrIgnore, returned by Init, makes Start return ErrIgnore and no
	// machine (OTP ignore). Terminate is not called.
	ErrIgnore = errors.New("statem: init ignored")
	// ErrStopped is what operations on a machine that has ended fail with
	// (OTP noproc): every such error satisfies errors.Is(err, ErrStopped).
	ErrStopped = errors.New("statem: machine stopped")
	// ErrCalledSelf is returned by Call when a machine calls itself, which
	// would otherwise deadlock (the ctx passed to callbacks identifies the
	// machine).
	ErrCalledSelf = errors.New("statem: machine called itself")
	// ErrStartTimeout is returned by Start when Init did not return within
	// the start time-out or the Start context's deadline.
	ErrStartTimeout = errors.New("statem: start timed out")
	// ErrAbandoned is what Pending.Wait returns after Pending.Abandon.
	ErrAbandoned = errors.New("statem: request abandoned")
	// ErrShutdown is a quiet stop reason (OTP shutdown): a machine stopped
	// with it, or with an error wrapping it, is not logged as a failure.
	ErrShutdown = errors.New("statem: shutdown")
)

// IsQuiet reports whether reason is a normal exit that is not logged:
// nil, ErrShutdown or an error wrapping it.
func IsQuiet(reason error) bool {
	return reason == nil || errors.Is(reason, ErrShutdown)
}

// AlreadyStartedError is returned by Start when the name is taken; Existing
// is the process registered under it.
type AlreadyStartedError struct {
	Name     any
	Existing Process
}

// Error names the taken name.
func (e *AlreadyStartedError) Error() string {
	return fmt.Sprintf("statem: name %v already started", e.Name)
}

// PanicError is the exit reason of a machine whose callback panicked; it
// carries the panic value and the stack of the panicking goroutine. If the
// value is an error, Unwrap returns it.
type PanicError struct {
	Value any
	Stack []byte
}

// Error shows the panic value (the stack is in Stack).
func (e *PanicError) Error() string {
	return fmt.Sprintf("statem: callback panicked: %v", e.Value)
}

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// BadResultError is the exit reason of a machine whose callback returned
// something invalid: the zero Result, an invalid action, an action not
// allowed where it was returned (a state change, postpone or next event
// from an enter call; a non-reply action in StopAndReply), or an event in a
// state with no StateFunc.
type BadResultError struct {
	// State is the state the callback ran in.
	State any
	// Event is the event being handled (Type Enter for an enter call).
	Event Event
	// Reason says what was wrong.
	Reason string
}

// Error says where and what was wrong.
func (e *BadResultError) Error() string {
	return fmt.Sprintf("statem: bad result in state %v for event %v: %s", e.State, e.Event, e.Reason)
}

// ExitError is returned by Call (and GetState, Status, ...) when the
// machine ended before answering. It satisfies errors.Is(err, ErrStopped)
// and unwraps to the machine's exit reason, if any.
type ExitError struct {
	Reason error
}

// Error shows ErrStopped and the exit reason.
func (e *ExitError) Error() string {
	if e.Reason == nil {
		return ErrStopped.Error()
	}
	return fmt.Sprintf("%v: %v", ErrStopped, e.Reason)
}

// Is makes errors.Is(err, ErrStopped) true.
func (e *ExitError) Is(target error) bool { return target == ErrStopped }

// Unwrap returns the exit reason.
func (e *ExitError) Unwrap() error { return e.Reason }
