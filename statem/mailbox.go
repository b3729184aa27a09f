package statem

import (
	"sync"
	"unsafe"
)

type msgKind uint8

const (
	msgCall  msgKind = iota + 1 // msg = request, ref = *callSlot
	msgCast                     // msg = message
	msgInfo                     // msg = message
	msgTimer                    // ref = *timerEntry that fired
	msgSys                      // ref = *sysReq run on the machine's goroutine
	msgStop                     // ref = *sysReq carrying the stop reason
)

// envelope is one message in the mailbox, stored by value (32 bytes), so
// sending allocates nothing beyond what the caller boxes into msg. ref
// points to the kind's own record (see msgKind).
type envelope struct {
	kind msgKind
	msg  any
	ref  unsafe.Pointer
}

func (e *envelope) slot() *callSlot    { return (*callSlot)(e.ref) }
func (e *envelope) sys() *sysReq       { return (*sysReq)(e.ref) }
func (e *envelope) timer() *timerEntry { return (*timerEntry)(e.ref) }

// chunkLen is the number of envelopes per chunk: 1 KiB, small enough for
// idle machines, large enough to amortise the locking.
const chunkLen = 32

// maxFree chunks (1024 messages, 32 KiB) are kept for reuse, so a machine
// with up to that many messages in flight allocates nothing in steady
// state; a larger backlog costs one allocation per chunk.
const maxFree = 32

type chunk struct {
	next *chunk
	n    int
	buf  [chunkLen]envelope
}

// mailbox is an unbounded multi-producer, single-consumer queue: a list
// of fixed-size chunks filled under a mutex. The consumer takes the whole
// list at once and hands back the chunks it has emptied, so no message is
// ever copied twice and a growing backlog costs one allocation per chunk,
// never a reallocation. signal (capacity 1) wakes the consumer when a
// message lands in an empty mailbox.
type mailbox struct {
	mu         sync.Mutex
	head, tail *chunk
	count      int
	free       *chunk
	nfree      int
	closed     bool
	signal     chan struct{}
	pending    *callSlot // outstanding calls
}

// put appends e; it reports false once the mailbox is closed.
func (mb *mailbox) put(e envelope) bool {
	return mb.putCall(e, nil)
}

// putCall appends e and, if slot is not nil, records the outstanding call
// in pending; it reports false once the mailbox is closed.
func (mb *mailbox) putCall(e envelope, slot *callSlot) bool {
	mb.mu.Lock()
	if mb.closed {
		mb.mu.Unlock()
		return false
	}
	if slot != nil {
		slot.mb, slot.prev, slot.next = mb, nil, mb.pending
		if mb.pending != nil {
			mb.pending.prev = slot
		}
		mb.pending = slot
	}
	t := mb.tail
	wake := t == nil
	if t == nil || t.n == chunkLen {
		c := mb.free
		if c != nil {
			mb.free, c.next = c.next, nil
			mb.nfree--
		} else {
			c = new(chunk)
		}
		if t == nil {
			mb.head = c
		} else {
			t.next = c
		}
		mb.tail, t = c, c
	}
	t.buf[t.n] = e
	t.n++
	mb.count++
	mb.mu.Unlock()
	if wake {
		select {
		case mb.signal <- struct{}{}:
		default:
		}
	}
	return true
}

// take hands the consumer everything queued (nil if empty) with its count,
// and takes back spent, a list of chunks the consumer has emptied and
// cleared.
func (mb *mailbox) take(spent *chunk) (*chunk, int) {
	mb.mu.Lock()
	for spent != nil {
		c := spent
		spent = c.next
		if mb.nfree < maxFree {
			c.next = mb.free
			mb.free = c
			mb.nfree++
		}
	}
	h, n := mb.head, mb.count
	mb.head, mb.tail, mb.count = nil, nil, 0
	mb.mu.Unlock()
	return h, n
}

// len returns the number of messages not yet taken.
func (mb *mailbox) len() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.count
}

// close rejects further puts and drops what is queued; callers waiting for
// those messages watch the machine's done channel instead.
// It answers every outstanding call with errEnded.
func (mb *mailbox) close() {
	mb.mu.Lock()
	mb.closed = true
	mb.head, mb.tail, mb.free, mb.count, mb.nfree = nil, nil, nil, 0, 0
	for c := mb.pending; c != nil; {
		next := c.next
		c.prev, c.next = nil, nil
		if c.state.CompareAndSwap(c.gen<<1, c.gen<<1|1) {
			c.ch <- reply{err: errEnded} // we won: the channel is empty
		}
		c = next
	}
	mb.pending = nil
	mb.mu.Unlock()
}

// unlink removes an answered or abandoned call from pending.
func (mb *mailbox) unlink(c *callSlot) {
	mb.mu.Lock()
	if c.prev != nil {
		c.prev.next = c.next
	} else if mb.pending == c {
		mb.pending = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
	mb.mu.Unlock()
}

// inbox is the consumer's side: the chunks taken from the mailbox, read
// in order.
type inbox struct {
	cur   *chunk
	ri    int // next unread index in cur
	left  int // unread messages in all taken chunks
	spent *chunk
}

// next returns the next message, waiting for one if necessary.
func (in *inbox) next(mb *mailbox) envelope {
	for {
		if c := in.cur; c != nil {
			if in.ri < c.n {
				e := c.buf[in.ri]
				in.ri++
				in.left--
				return e
			}
			in.cur, in.ri = c.next, 0
			clear(c.buf[:c.n])
			c.n, c.next = 0, in.spent
			in.spent = c
			continue
		}
		in.cur, in.left = mb.take(in.spent)
		in.spent, in.ri = nil, 0
		if in.cur == nil {
			<-mb.signal
		}
	}
}

// drop forgets everything taken (the machine has ended).
func (in *inbox) drop() {
	for c := in.cur; c != nil; c = c.next {
		clear(c.buf[:c.n])
	}
	in.cur, in.spent, in.ri, in.left = nil, nil, 0, 0
}
