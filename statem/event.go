package statem

import (
	"fmt"
	"sync/atomic"
)

// EventType says where an event came from. The zero value is not a valid
// event type.
type EventType uint8

const (
	// Call is a synchronous request from Machine.Call (or NextCall): the
	// content is the request and Event.From must be answered, by a Reply
	// action or by From.Reply from any goroutine, now or later.
	Call EventType = iota + 1
	// Cast is an asynchronous message from Machine.Cast.
	Cast
	// Info is any other message, from Machine.Send.
	Info
	// Internal is an event inserted by the NextEvent action; only the
	// machine itself can produce it, so handlers can tell self-generated
	// events from external ones.
	Internal
	// EventTimeout is the event time-out (SetEventTimeout): it fires only if
	// no event at all arrives before it expires.
	EventTimeout
	// GenericTimeout is a named time-out (SetGenericTimeout); Event.Name
	// holds the name.
	GenericTimeout
	// StateTimeout is the state time-out (SetStateTimeout); it is delivered
	// only in the state it was set for.
	StateTimeout
	// Enter is a state enter call (WithStateEnter). It is not a real event:
	// Event.Content holds the previous state (of type S), and the result
	// may not change the state, postpone or insert events.
	Enter
)

var eventTypeNames = [...]string{
	Call:           "call",
	Cast:           "cast",
	Info:           "info",
	Internal:       "internal",
	EventTimeout:   "timeout",
	GenericTimeout: "generic_timeout",
	StateTimeout:   "state_timeout",
	Enter:          "enter",
}

// String returns the Erlang-style name of the event type.
func (t EventType) String() string {
	if int(t) < len(eventTypeNames) && eventTypeNames[t] != "" {
		return eventTypeNames[t]
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Event is what a handler receives.
type Event struct {
	Type EventType
	// From is the caller to answer, for Call events; the zero From
	// otherwise.
	From From
	// Name is the time-out name for GenericTimeout events.
	Name any
	// Content is the message, request or time-out content; for Enter, the
	// previous state.
	Content any
}

// String renders the event for logs and test failures.
func (e Event) String() string {
	if e.Type == GenericTimeout {
		return fmt.Sprintf("{%v %v %v}", e.Type, e.Name, e.Content)
	}
	return fmt.Sprintf("{%v %v}", e.Type, e.Content)
}

// reply carries the answer to one call.
type reply struct {
	v   any
	err error
}

// callSlot is the rendezvous between one Call and its answer. The channel
// has capacity one, so a reply never blocks; the flag makes the first of
// "reply" and "caller gave up" win, so a late reply is dropped and nothing
// is left behind once both sides let go of the slot.
type callSlot struct {
	done atomic.Bool
	ch   chan reply
}

func newCallSlot() *callSlot {
	return &callSlot{ch: make(chan reply, 1)}
}

// deliver sends r unless the slot was already answered or abandoned.
func (c *callSlot) deliver(r reply) bool {
	if !c.done.CompareAndSwap(false, true) {
		return false
	}
	c.ch <- r // capacity 1 and only one winner: never blocks
	return true
}

// abandon marks the slot as given up by the caller. It reports false if a
// reply won the race; the reply is then (or will shortly be) in ch.
func (c *callSlot) abandon() bool {
	return c.done.CompareAndSwap(false, true)
}

// From identifies the caller of a Call event. Its zero value is not a
// caller: replying to it does nothing and reports false. A From may be
// copied and used from any goroutine; only the first reply is delivered.
type From struct {
	slot *callSlot
}

// Reply answers the call with v: Call returns (v, nil). It never blocks.
// It reports whether the reply was delivered: false if the call was
// already answered, the caller gave up (its context ended), or f is the
// zero From. Unlike a Reply action, it is not seen by the tracer.
func (f From) Reply(v any) bool {
	if f.slot == nil {
		return false
	}
	return f.slot.deliver(reply{v: v})
}

// ReplyError answers the call with an error: Call returns (nil, err). It
// has the same contract as Reply.
func (f From) ReplyError(err error) bool {
	if f.slot == nil {
		return false
	}
	return f.slot.deliver(reply{err: err})
}

// IsZero reports whether f is the zero From (no caller).
func (f From) IsZero() bool { return f.slot == nil }
