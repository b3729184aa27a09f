package statem

import (
	"fmt"
	"time"
)

// Status is a snapshot of a running machine (OTP sys:get_status), taken on
// its goroutine. If the handler implements StatusFormatter, the snapshot
// passes through FormatStatus first.
type Status[S comparable, D any] struct {
	// Name is the registered name, or nil.
	Name any
	// State and Data are the current state and data.
	State S
	Data  D
	// Queue is the number of events waiting: inserted, retried, zero
	// time-outs and messages not yet received.
	Queue int
	// Postponed is the number of postponed events.
	Postponed int
	// Timeouts lists the running time-outs, event time-out first, then the
	// state time-out, then generic ones in the order they were started.
	Timeouts []TimeoutStatus
	// Suspended reports whether the machine is suspended (Suspend).
	Suspended bool
	// Log holds the last trace events, oldest first (WithLog).
	Log []TraceEvent
}

// TimeoutStatus describes one running time-out.
type TimeoutStatus struct {
	Type EventType // EventTimeout, StateTimeout or GenericTimeout
	Name any       // for GenericTimeout
	// Remaining is the time left before it fires (zero for a time-out
	// that expired and waits to be delivered).
	Remaining time.Duration
	Content   any
}

// String renders the time-out for logs.
func (t TimeoutStatus) String() string {
	if t.Type == GenericTimeout {
		return fmt.Sprintf("{%v %v %v %v}", t.Type, t.Name, t.Remaining, t.Content)
	}
	return fmt.Sprintf("{%v %v %v}", t.Type, t.Remaining, t.Content)
}

// Counters are cumulative statistics of a machine (OTP sys statistics).
// They are updated by the machine's goroutine and may be read from any
// goroutine at any time, also after the machine ended.
type Counters struct {
	// Events is the number of events handled (enter calls excluded).
	Events uint64 `json:"events"`
	// Enters is the number of state enter calls.
	Enters uint64 `json:"enters"`
	// StateChanges counts transitions to a different state.
	StateChanges uint64 `json:"state_changes"`
	// Postponed counts postponed events.
	Postponed uint64 `json:"postponed"`
	// Replies counts Reply actions sent (not From.Reply).
	Replies uint64 `json:"replies"`
	// Timeouts counts time-out events delivered.
	Timeouts uint64 `json:"timeouts"`
	// Received counts external messages taken from the mailbox (calls,
	// casts, infos).
	Received uint64 `json:"received"`
}

// TraceKind says what a TraceEvent reports.
type TraceKind uint8

const (
	// TraceHandle: the machine is about to handle Event in State (also
	// for enter calls).
	TraceHandle TraceKind = iota + 1
	// TracePostpone: Event was postponed in State.
	TracePostpone
	// TraceTransition: the callback for Event moved the machine from State
	// to NextState (equal for keep and repeat).
	TraceTransition
	// TraceReply: a Reply action answered a call; Reply and ReplyErr hold
	// the answer.
	TraceReply
	// TraceTerminate: the machine ends with Reason in State.
	TraceTerminate
)

var traceKindNames = [...]string{
	TraceHandle:     "event",
	TracePostpone:   "postpone",
	TraceTransition: "transition",
	TraceReply:      "reply",
	TraceTerminate:  "terminate",
}

// String returns the kind's name.
func (k TraceKind) String() string {
	if int(k) < len(traceKindNames) && traceKindNames[k] != "" {
		return traceKindNames[k]
	}
	return fmt.Sprintf("TraceKind(%d)", uint8(k))
}

// TraceEvent is what a tracer (WithTracer) receives. The tracer runs on
// the machine's goroutine, synchronously: it must not block or call the
// machine.
type TraceEvent struct {
	Kind      TraceKind
	State     any // the state (type S) when the event was handled
	Event     Event
	NextState any   // for TraceTransition
	Reply     any   // for TraceReply
	ReplyErr  error // for TraceReply
	Reason    error // for TraceTerminate
}

// String renders the trace event on one line (the format the tests
// compare against).
func (t TraceEvent) String() string {
	switch t.Kind {
	case TraceTransition:
		return fmt.Sprintf("%v %v %v -> %v", t.Kind, t.Event, t.State, t.NextState)
	case TraceReply:
		if t.ReplyErr != nil {
			return fmt.Sprintf("%v error %v", t.Kind, t.ReplyErr)
		}
		return fmt.Sprintf("%v %v", t.Kind, t.Reply)
	case TraceTerminate:
		return fmt.Sprintf("%v %v %v", t.Kind, t.State, t.Reason)
	default:
		return fmt.Sprintf("%v %v %v", t.Kind, t.Event, t.State)
	}
}
