package statem

import "sync"

type msgKind uint8

const (
	msgCall  msgKind = iota + 1 // msg = request, slot = caller
	msgCast                     // msg = message
	msgInfo                     // msg = message
	msgTimer                    // tkind, msg = name, gen = timer generation
	msgSys                      // sys = request run on the machine's goroutine
	msgStop                     // sys = request, sys.reason = stop reason
)

// envelope is one message in the mailbox. It is stored by value, so
// sending allocates nothing beyond what the caller boxes into msg.
type envelope struct {
	kind  msgKind
	tkind EventType
	gen   uint64
	msg   any
	slot  *callSlot
	sys   *sysReq
}

// mailbox is an unbounded multi-producer, single-consumer queue: producers
// append under a mutex, the consumer swaps the whole buffer out, so in
// steady state no operation allocates. signal (capacity 1) wakes the
// consumer when a message lands in an empty buffer.
type mailbox struct {
	mu     sync.Mutex
	buf    []envelope
	closed bool
	signal chan struct{}
}

// put appends e; it reports false once the mailbox is closed.
func (mb *mailbox) put(e envelope) bool {
	mb.mu.Lock()
	if mb.closed {
		mb.mu.Unlock()
		return false
	}
	wake := len(mb.buf) == 0
	mb.buf = append(mb.buf, e)
	mb.mu.Unlock()
	if wake {
		select {
		case mb.signal <- struct{}{}:
		default:
		}
	}
	return true
}

// swap hands the consumer everything queued and takes spare (emptied) as
// the new buffer.
func (mb *mailbox) swap(spare []envelope) []envelope {
	mb.mu.Lock()
	b := mb.buf
	mb.buf = spare[:0]
	mb.mu.Unlock()
	return b
}

// len returns the number of messages not yet swapped out.
func (mb *mailbox) len() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.buf)
}

// close rejects further puts and drops what is queued; callers waiting for
// those messages watch the machine's done channel instead.
func (mb *mailbox) close() {
	mb.mu.Lock()
	mb.closed = true
	clear(mb.buf)
	mb.buf = nil
	mb.mu.Unlock()
}
