package statem

import (
	"context"
	"sync"
	"unsafe"
)

// Pending is a call sent with Request and not yet waited for (OTP
// send_request). Its methods are safe for concurrent use; the reply is
// delivered once and then kept, so Wait may be called again.
type Pending struct {
	slot  *callSlot
	gen   uint64
	ended <-chan struct{}
	exit  func() error

	mu    sync.Mutex
	got   bool
	reply reply
}

// Request sends req as a Call event without waiting (OTP send_request):
// collect the reply with Wait. It fails at once, with an error satisfying
// errors.Is(err, ErrStopped), if the machine has ended. A Pending that is
// never waited for or abandoned keeps nothing alive once the machine has
// answered or ended.
func (m *Machine[S, D]) Request(req any) (*Pending, error) {
	// Not from the pool: the slot may outlive this call in the caller's
	// hands.
	slot := &callSlot{ch: make(chan reply, 1)}
	slot.gen = 1
	slot.state.Store(slot.gen << 1)
	if !m.mb.putCall(envelope{kind: msgCall, msg: req, ref: unsafe.Pointer(slot)}, slot) {
		return nil, m.exitErr()
	}
	return &Pending{slot: slot, gen: slot.gen, ended: m.done, exit: func() error { return &ExitError{Reason: m.err} }}, nil
}

// Wait waits for the reply (OTP wait_response). It returns the reply; an
// error satisfying errors.Is(err, ErrStopped) if the machine ended before
// answering; ErrAbandoned after Abandon; or ctx.Err() if ctx ends first,
// in which case the request stays outstanding and Wait may be called
// again.
func (p *Pending) Wait(ctx context.Context) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.got {
		return p.result()
	}
	select {
	case r := <-p.slot.ch:
		p.got, p.reply = true, r
		return p.result()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Abandon gives the request up (OTP receive_response on time-out): a later
// reply is dropped and Wait returns ErrAbandoned. Abandoning a request that
// was already answered does nothing.
func (p *Pending) Abandon() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.got && p.slot.abandon(p.gen) {
		p.got, p.reply = true, reply{err: ErrAbandoned}
	}
}

func (p *Pending) result() (any, error) {
	if p.reply.err == errEnded {
		<-p.ended // as with Call: learn of the end once the machine is gone
		return nil, p.exit()
	}
	return p.reply.v, p.reply.err
}
