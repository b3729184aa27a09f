package statem

import "time"

type resultKind uint8

const (
	resInvalid   resultKind = iota // zero Result: a bad result
	resNext                        // next_state
	resKeep                        // keep_state (data given)
	resKeepAll                     // keep_state_and_data
	resRepeat                      // repeat_state (data given)
	resRepeatAll                   // repeat_state_and_data
	resStop                        // stop
	resStopReply                   // stop_and_reply
)

// Result is what a handler returns: the next state and data, the actions
// to run, or a stop. Build it with Next, Keep, KeepAll, Repeat, RepeatAll,
// Stop or StopAndReply; the zero Result is invalid and stops the machine
// with a *BadResultError.
type Result[S comparable, D any] struct {
	kind  resultKind
	state S
	data  D
	// The actions: the first is stored inline and the others copied, so
	// that the common single action (a Reply) costs no allocation.
	nacts  int
	first  Action
	rest   []Action
	reason error
}

// withActions stores a copy of a in r.
func (r Result[S, D]) withActions(a []Action) Result[S, D] {
	if len(a) > 0 {
		r.nacts, r.first = len(a), a[0]
		if len(a) > 1 {
			r.rest = append([]Action(nil), a[1:]...)
		}
	}
	return r
}

// action returns the i-th action.
func (r *Result[S, D]) action(i int) *Action {
	if i == 0 {
		return &r.first
	}
	return &r.rest[i-1]
}

// Next moves to state s with data d and runs the actions. If s differs from
// the current state it is a state change: postponed events are retried,
// the state time-out is cancelled and, with WithStateEnter, the enter call
// runs.
func Next[S comparable, D any](s S, d D, a ...Action) Result[S, D] {
	return Result[S, D]{kind: resNext, state: s, data: d}.withActions(a)
}

// Keep stays in the current state with data d (OTP keep_state).
func Keep[S comparable, D any](d D, a ...Action) Result[S, D] {
	return Result[S, D]{kind: resKeep, data: d}.withActions(a)
}

// KeepAll keeps both state and data (OTP keep_state_and_data).
func KeepAll[S comparable, D any](a ...Action) Result[S, D] {
	return Result[S, D]{kind: resKeepAll}.withActions(a)
}

// Repeat stays in the current state with data d and runs the state enter
// call again (OTP repeat_state). It is not a state change: postponed
// events are not retried.
func Repeat[S comparable, D any](d D, a ...Action) Result[S, D] {
	return Result[S, D]{kind: resRepeat, data: d}.withActions(a)
}

// RepeatAll is Repeat keeping the data (OTP repeat_state_and_data).
func RepeatAll[S comparable, D any](a ...Action) Result[S, D] {
	return Result[S, D]{kind: resRepeatAll}.withActions(a)
}

// Stop ends the machine: Terminate(reason, state, d) runs, then Done is
// closed and Err returns reason. A nil reason is a normal stop; nil and
// ErrShutdown (or errors wrapping it) are not logged.
func Stop[S comparable, D any](reason error, d D) Result[S, D] {
	return Result[S, D]{kind: resStop, data: d, reason: reason}
}

// StopAndReply sends the replies (Reply or ReplyError actions, in order)
// and then stops like Stop: callers are answered before Terminate runs.
// Any other kind of action in replies is a bad result; as in OTP, the
// replies before it are still sent, then the machine stops with a
// *BadResultError naming the action's index.
func StopAndReply[S comparable, D any](reason error, d D, replies ...Action) Result[S, D] {
	return Result[S, D]{kind: resStopReply, data: d, reason: reason}.withActions(replies)
}

type actionKind uint8

const (
	actInvalid actionKind = iota
	actPostpone
	actNextEvent
	actReply         // content = the reply
	actReplyError    // content = the error
	actSetTimeout    // relative or absolute; ev = kind
	actCancelTimeout // ev = kind
	actUpdateTimeout // ev = kind
	actHibernate
)

// Action is one entry in a Result's action list. Build it with the
// functions of this package; the zero Action is invalid and stops the
// machine with a *BadResultError. Actions run in list order; for the
// transition options (postpone and each time-out) the last one of each
// kind wins.
type Action struct {
	kind    actionKind
	ev      EventType // event type for NextEvent; time-out kind for timers
	from    From
	name    any
	content any
	d       time.Duration
	at      *time.Time // an absolute deadline (rare: kept out of line)
}

// Infinity as a time-out duration means "no timer": setting it cancels the
// time-out. Any negative duration means the same.
const Infinity time.Duration = -1

// Postpone postpones the current event: it is retried, in its original
// order, after the next state change. It is invalid from an enter call and
// ignored in Init.
func Postpone() Action { return Action{kind: actPostpone} }

// NextEvent inserts an event of type t with content before all queued
// events (the first NextEvent of a list is processed first). Any type but
// Enter is allowed; use NextCall for a Call and a GenericTimeout is
// inserted with a nil name (use NextGenericTimeout for a named one). It is
// invalid from an enter call.
func NextEvent(t EventType, content any) Action {
	return Action{kind: actNextEvent, ev: t, content: content}
}

// NextGenericTimeout inserts a GenericTimeout event named name, like
// NextEvent.
func NextGenericTimeout(name any, content any) Action {
	return Action{kind: actNextEvent, ev: GenericTimeout, name: name, content: content}
}

// NextCall inserts a Call event with request req answered through from
// (OTP {next_event, {call, From}, Req}).
func NextCall(from From, req any) Action {
	return Action{kind: actNextEvent, ev: Call, from: from, content: req}
}

// Reply answers the caller from with v. Replies are sent when the action
// list is processed (step 1 of a transition), in list order, and are seen
// by the tracer.
func Reply(from From, v any) Action {
	return Action{kind: actReply, from: from, content: v}
}

// ReplyError answers the caller from with err (Call returns nil, err).
func ReplyError(from From, err error) Action {
	return Action{kind: actReplyError, from: from, content: err}
}

// SetEventTimeout starts the event time-out: if no event arrives within d,
// an EventTimeout event with content is delivered. Any event cancels it; a
// zero d fires only if no event is queued. A negative d (Infinity) cancels.
func SetEventTimeout(d time.Duration, content any) Action {
	return Action{kind: actSetTimeout, ev: EventTimeout, d: d, content: content}
}

// SetStateTimeout starts the state time-out: after d a StateTimeout event
// with content is delivered, unless the state changes first. Set in a
// transition that changes the state, it belongs to the new state. A
// negative d (Infinity) cancels.
func SetStateTimeout(d time.Duration, content any) Action {
	return Action{kind: actSetTimeout, ev: StateTimeout, d: d, content: content}
}

// SetGenericTimeout starts (or restarts) the time-out named name: after d a
// GenericTimeout event with name and content is delivered. It is never
// cancelled automatically. A negative d (Infinity) cancels it. name must
// be comparable (a non-comparable name crashes the machine).
func SetGenericTimeout(name any, d time.Duration, content any) Action {
	return Action{kind: actSetTimeout, ev: GenericTimeout, name: name, d: d, content: content}
}

// EventTimeoutAt is SetEventTimeout with an absolute deadline. A deadline
// in the past expires at once, through the mailbox like any expiry (not
// as a zero time-out, which is queued ahead of the mailbox), as with
// OTP's {abs, true}.
func EventTimeoutAt(t time.Time, content any) Action {
	return Action{kind: actSetTimeout, ev: EventTimeout, at: &t, content: content}
}

// StateTimeoutAt is SetStateTimeout with an absolute deadline.
func StateTimeoutAt(t time.Time, content any) Action {
	return Action{kind: actSetTimeout, ev: StateTimeout, at: &t, content: content}
}

// GenericTimeoutAt is SetGenericTimeout with an absolute deadline.
func GenericTimeoutAt(name any, t time.Time, content any) Action {
	return Action{kind: actSetTimeout, ev: GenericTimeout, name: name, at: &t, content: content}
}

// CancelTimeout cancels a time-out: t is EventTimeout, StateTimeout or
// GenericTimeout (then name says which). Cancelling a time-out that is not
// running does nothing.
func CancelTimeout(t EventType, name any) Action {
	return Action{kind: actCancelTimeout, ev: t, name: name}
}

// UpdateTimeout changes the content of a running time-out, keeping its
// expiry; it also applies to a time-out that expired but was not yet
// delivered. If no such time-out is running it starts one with time zero.
func UpdateTimeout(t EventType, name any, content any) Action {
	return Action{kind: actUpdateTimeout, ev: t, name: name, content: content}
}

// Hibernate is accepted for compatibility and does nothing: Go has no
// per-process heap to compact.
func Hibernate() Action { return Action{kind: actHibernate} }
