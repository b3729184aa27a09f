package statem

import (
	"errors"
	"fmt"
	"sync"
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
// has capacity one, so a reply never blocks. state holds the generation
// of the current call and an "answered" bit: the first of "reply" and
// "caller gave up" sets the bit, so a late reply is dropped. Slots are
// reused (Machine.slots) once a reply was received; a From of an earlier
// call carries an older generation and can never answer a later one.
//
// While a call is outstanding its slot is linked in the machine's mailbox
// (pending), so that a machine that ends answers every caller it leaves
// behind with errEnded: the caller then waits on one channel only.
type callSlot struct {
	state atomic.Uint64 // gen<<1 | answered
	gen   uint64        // generation of the current call, set by the caller
	ch    chan reply
	// Guarded by mb.mu.
	mb         *mailbox
	prev, next *callSlot
}

// errEnded answers the calls left behind by a machine that ended.
var errEnded = errors.New("statem: machine ended before answering")

// getCallSlot returns a slot from pool armed for a new call. Each machine
// has its own pool: a channel made inside a testing/synctest bubble must
// not be used outside it.
func getCallSlot(pool *sync.Pool) *callSlot {
	c, _ := pool.Get().(*callSlot)
	if c == nil {
		c = &callSlot{ch: make(chan reply, 1)}
	}
	c.gen = c.state.Load()>>1 + 1
	c.state.Store(c.gen << 1)
	return c
}

// from returns the From of the slot's current call. It runs on the
// machine's goroutine when the call is dequeued.
func (c *callSlot) from() From { return From{slot: c, gen: c.gen} }

// deliver sends r unless call gen was already answered or abandoned.
func (c *callSlot) deliver(gen uint64, r reply) bool {
	if !c.state.CompareAndSwap(gen<<1, gen<<1|1) {
		return false
	}
	c.mb.unlink(c)
	c.ch <- r // capacity 1 and only one winner: never blocks
	return true
}

// abandon marks call gen as given up by the caller. It reports false if
// a reply won the race; the reply is then (or will shortly be) in ch.
func (c *callSlot) abandon(gen uint64) bool {
	if !c.state.CompareAndSwap(gen<<1, gen<<1|1) {
		return false
	}
	c.mb.unlink(c)
	return true
}

// From identifies the caller of a Call event. Its zero value is not a
// caller: replying to it does nothing and reports false. A From may be
// copied and used from any goroutine; only the first reply is delivered.
type From struct {
	slot *callSlot
	gen  uint64
}

// Reply answers the call with v: Call returns (v, nil). It never blocks.
// It reports whether the reply was delivered: false if the call was
// already answered, the caller gave up (its context ended), or f is the
// zero From. Unlike a Reply action, it is not seen by the tracer.
func (f From) Reply(v any) bool {
	if f.slot == nil {
		return false
	}
	return f.slot.deliver(f.gen, reply{v: v})
}

// ReplyError answers the call with an error: Call returns (nil, err). It
// has the same contract as Reply.
func (f From) ReplyError(err error) bool {
	if f.slot == nil {
		return false
	}
	return f.slot.deliver(f.gen, reply{err: err})
}

// IsZero reports whether f is the zero From (no caller).
func (f From) IsZero() bool { return f.slot == nil }
