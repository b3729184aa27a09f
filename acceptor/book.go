package acceptor

import (
	"cmp"
	"context"
	"errors"
	"net"
	"slices"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// phase is the pool machine's state. Running and Suspended accept; the
// other three are the stages of a shutdown, each with its state time-out.
type phase uint8

const (
	running    phase = iota + 1
	suspended        // Suspend: acceptors wait, connections go on
	draining         // stage 1: listeners closed, Draining signalled, Grace runs
	cancelling       // stage 2: contexts cancelled, Shutdown runs
	killing          // stage 3: sockets closed, Abandon runs
)

func (p phase) String() string {
	return [...]string{"?", "running", "suspended", "draining", "cancelling", "killing"}[p]
}

func (p phase) shuttingDown() bool { return p >= draining }

// Events the acceptor goroutines cast to the machine (acceptor_pool's
// ACCEPT, CANCEL, IGNORE and EXIT messages).
type (
	evAccepted struct {
		seq         uint64
		replacement uint64 // already started by the accepting goroutine; 0 if none
		conn        net.Conn
		peer, local net.Addr
		at          time.Time
	}
	evCancelled  struct{ seq uint64 } // accept timeout
	evIgnored    struct{ seq uint64 } // Init returned ErrIgnore
	evInitFailed struct {
		seq uint64
		err error
	} // Init error or panic
	evAcceptorExit struct {
		seq    uint64
		reason error
	} // ended before a hand-off
	evConnExit struct {
		seq    uint64
		reason error
	} // Continue returned
	evKill struct{} // Close
)

// Calls from the Pool's methods.
type (
	callAdd struct {
		ln net.Listener
		n  int
	}
	callListeners struct{}
	callChildren  struct{}
	callCount     struct{}
	callSuspend   struct{}
	callResume    struct{}
	callWait      struct{ n int }
	callShutdown  struct{}
)

type acceptorRec struct {
	l *lnState
}

type connRec struct {
	child Child
	conn  net.Conn
}

type waiter struct {
	n    int
	from statem.From
}

// book is the machine's data: the pool's bookkeeping. Only the machine's
// goroutine touches it.
type book struct {
	sh        *shared
	nextRef   Ref
	listeners []*lnState              // open listeners, in AddListener order
	acceptors map[uint64]*acceptorRec // waiting, not handed off
	conns     map[uint64]*connRec     // handed off
	restarts  []time.Time             // counted events within Period
	waiters   []waiter                // WaitForConns
	stoppers  []statem.From           // Shutdown callers
	final     error                   // why the pool stops (nil: requested)
}

// handler runs book on statem.
type handler struct{ b *book }

func (h handler) Init(context.Context) (phase, *book, []statem.Action, error) {
	return running, h.b, nil, nil
}

func (h handler) HandleEvent(_ context.Context, ev statem.Event, s phase, b *book) statem.Result[phase, *book] {
	switch ev.Type {
	case statem.Call:
		return b.call(ev.From, ev.Content, s)
	case statem.Cast:
		return b.event(ev.Content, s)
	case statem.StateTimeout:
		return b.nextStage(s)
	}
	return statem.KeepAll[phase, *book]()
}

func (b *book) call(from statem.From, req any, s phase) statem.Result[phase, *book] {
	reply := func(v any) statem.Result[phase, *book] {
		return statem.KeepAll[phase, *book](statem.Reply(from, v))
	}
	switch r := req.(type) {
	case callAdd:
		if s.shuttingDown() {
			return statem.KeepAll[phase, *book](statem.ReplyError(from, ErrClosed))
		}
		b.nextRef++
		l := newLnState(ListenerInfo{Ref: b.nextRef, Addr: r.ln.Addr(), Acceptors: r.n, Listener: r.ln})
		b.listeners = append(b.listeners, l)
		if s == suspended {
			l.kick()
		}
		for range r.n {
			b.spawn(l)
		}
		return reply(l.info.Ref)
	case callListeners:
		b.pruneListeners()
		out := make([]ListenerInfo, len(b.listeners))
		for i, l := range b.listeners {
			out[i] = l.info
		}
		return reply(out)
	case callChildren:
		out := make([]Child, 0, len(b.conns))
		for _, c := range b.conns {
			out = append(out, c.child)
		}
		slices.SortFunc(out, func(x, y Child) int { return cmp.Compare(x.Seq, y.Seq) })
		return reply(out)
	case callCount:
		return reply(b.counts())
	case callSuspend:
		if s.shuttingDown() {
			return statem.KeepAll[phase, *book](statem.ReplyError(from, ErrClosed))
		}
		if s == running {
			b.sh.mu.Lock()
			b.sh.resumed = make(chan struct{})
			b.sh.mu.Unlock()
			for _, l := range b.listeners {
				l.kick()
			}
		}
		return statem.Next(suspended, b, statem.Reply(from, nil))
	case callResume:
		if s.shuttingDown() {
			return statem.KeepAll[phase, *book](statem.ReplyError(from, ErrClosed))
		}
		if s == suspended {
			b.resume()
		}
		return statem.Next(running, b, statem.Reply(from, nil))
	case callWait:
		if len(b.conns) == r.n {
			return reply(nil)
		}
		if s.shuttingDown() && r.n > len(b.conns) {
			return statem.KeepAll[phase, *book](statem.ReplyError(from, ErrClosed))
		}
		b.waiters = append(b.waiters, waiter{r.n, from})
		return statem.KeepAll[phase, *book]()
	case callShutdown:
		b.stoppers = append(b.stoppers, from)
		if s.shuttingDown() {
			return statem.KeepAll[phase, *book]()
		}
		return b.beginShutdown(nil)
	}
	return statem.KeepAll[phase, *book](statem.ReplyError(from, errors.New("acceptor: unknown call")))
}

func (b *book) resume() {
	b.sh.mu.Lock()
	close(b.sh.resumed)
	b.sh.resumed = nil
	b.sh.mu.Unlock()
}

func (b *book) counts() Counts {
	return Counts{Specs: 1, Active: len(b.conns), Acceptors: len(b.acceptors), Workers: len(b.conns) + len(b.acceptors)}
}

// spawn starts one acceptor goroutine on l.
func (b *book) spawn(l *lnState) {
	seq := b.sh.seq.Add(1)
	b.acceptors[seq] = &acceptorRec{l: l}
	go b.sh.runAcceptor(seq, l)
}

// replace starts the replacement for an acceptor that ended, unless the
// pool is shutting down or the listener is gone.
func (b *book) replace(s phase, rec *acceptorRec) {
	if rec == nil || s.shuttingDown() || rec.l.isClosed() {
		return
	}
	b.spawn(rec.l)
}

func (b *book) pruneListeners() {
	b.listeners = slices.DeleteFunc(b.listeners, (*lnState).isClosed)
}

func (b *book) event(msg any, s phase) statem.Result[phase, *book] {
	switch e := msg.(type) {
	case evAccepted:
		rec := b.acceptors[e.seq]
		delete(b.acceptors, e.seq)
		var ref Ref
		if rec != nil {
			ref = rec.l.info.Ref
		}
		b.conns[e.seq] = &connRec{
			child: Child{ID: b.sh.spec.ID, Seq: e.seq, Peer: e.peer, Local: e.local, Listener: ref, Since: e.at},
			conn:  e.conn,
		}
		if s == killing {
			e.conn.Close()
		}
		if e.replacement != 0 && rec != nil {
			b.acceptors[e.replacement] = &acceptorRec{l: rec.l}
		}
		b.notifyWaiters()
	case evCancelled:
		rec := b.acceptors[e.seq]
		delete(b.acceptors, e.seq)
		b.replace(s, rec)
	case evIgnored:
		rec := b.acceptors[e.seq]
		delete(b.acceptors, e.seq)
		b.replace(s, rec)
	case evInitFailed:
		rec := b.acceptors[e.seq]
		delete(b.acceptors, e.seq)
		if !s.shuttingDown() {
			b.sh.spec.Logger.Error("acceptor: init failed", "id", b.sh.spec.ID, "err", e.err)
			if r, stop := b.count(e.err); stop {
				return r
			}
		}
		b.replace(s, rec)
	case evAcceptorExit:
		delete(b.acceptors, e.seq)
		b.pruneListeners()
	case evConnExit:
		delete(b.conns, e.seq)
		b.notifyWaiters()
		if !s.shuttingDown() && !Quiet(e.reason) {
			b.sh.spec.Logger.Error("acceptor: connection exited abnormally", "id", b.sh.spec.ID, "seq", e.seq, "err", e.reason)
			if b.sh.spec.Restart == Transient {
				if r, stop := b.count(e.reason); stop {
					return r
				}
			}
		}
	case evKill:
		if s == killing {
			break
		}
		if !s.shuttingDown() {
			b.stage1()
		}
		b.sh.cancel()
		return b.stage3()
	}
	if s.shuttingDown() && len(b.acceptors) == 0 && len(b.conns) == 0 {
		return b.finish(nil)
	}
	return statem.Keep[phase](b)
}

// count records one restart (acceptor_pool's add_restart) and reports
// whether the intensity is exceeded, with the result that starts the
// shutdown.
func (b *book) count(reason error) (statem.Result[phase, *book], bool) {
	now := time.Now()
	cut := now.Add(-b.sh.spec.Period)
	b.restarts = slices.DeleteFunc(b.restarts, func(t time.Time) bool { return !t.After(cut) })
	b.restarts = append(b.restarts, now)
	if len(b.restarts) <= b.sh.spec.Intensity {
		return statem.Result[phase, *book]{}, false
	}
	err := &IntensityError{Intensity: b.sh.spec.Intensity, Period: b.sh.spec.Period, Last: reason}
	b.sh.spec.Logger.Error("acceptor: pool stopping", "id", b.sh.spec.ID, "err", err)
	return b.beginShutdown(err), true
}

func (b *book) notifyWaiters() {
	n := len(b.conns)
	b.waiters = slices.DeleteFunc(b.waiters, func(w waiter) bool {
		if w.n == n {
			w.from.Reply(nil)
			return true
		}
		return false
	})
}

// stage1 closes the listeners and signals Draining.
func (b *book) stage1() {
	b.sh.drain() // first, so that acceptors woken by the close see why
	for _, l := range b.listeners {
		l.close()
	}
	b.listeners = nil
	if b.sh.gate() != nil {
		b.resume() // acceptors waiting for Resume must see closing instead
	}
}

func (b *book) beginShutdown(final error) statem.Result[phase, *book] {
	b.final = final
	b.stage1()
	if len(b.acceptors) == 0 && len(b.conns) == 0 {
		return b.finish(nil)
	}
	return statem.Next(draining, b, stageTimeout(b.sh.spec.Grace))
}

// nextStage runs when a stage's time-out expires.
func (b *book) nextStage(s phase) statem.Result[phase, *book] {
	switch s {
	case draining:
		b.sh.cancel()
		if b.sh.spec.Shutdown == BrutalKill {
			return b.stage3()
		}
		return statem.Next(cancelling, b, stageTimeout(b.sh.spec.Shutdown))
	case cancelling:
		return b.stage3()
	case killing:
		se := &ShutdownError{}
		for seq := range b.acceptors {
			se.Stragglers = append(se.Stragglers, Straggler{Seq: seq})
		}
		for seq, c := range b.conns {
			se.Stragglers = append(se.Stragglers, Straggler{Seq: seq, HandedOff: true, Peer: c.child.Peer})
		}
		slices.SortFunc(se.Stragglers, func(x, y Straggler) int { return cmp.Compare(x.Seq, y.Seq) })
		b.sh.spec.Logger.Error("acceptor: abandoning goroutines", "id", b.sh.spec.ID, "err", se)
		return b.finish(se)
	}
	return statem.KeepAll[phase, *book]()
}

// stage3 closes every connection's socket, which unblocks any I/O the
// handler ignored its ctx in.
func (b *book) stage3() statem.Result[phase, *book] {
	for _, c := range b.conns {
		c.conn.Close()
	}
	if len(b.acceptors) == 0 && len(b.conns) == 0 {
		return b.finish(nil)
	}
	return statem.Next(killing, b, stageTimeout(b.sh.spec.Abandon))
}

func stageTimeout(d time.Duration) statem.Action {
	if d == Infinity {
		return statem.SetStateTimeout(statem.Infinity, nil)
	}
	return statem.SetStateTimeout(d, nil)
}

// finish ends the machine: Shutdown callers get shutdownErr (nil when
// every goroutine returned), WaitForConns callers ErrClosed.
func (b *book) finish(shutdownErr error) statem.Result[phase, *book] {
	b.sh.cancel()
	var replies []statem.Action
	for _, f := range b.stoppers {
		if shutdownErr != nil {
			replies = append(replies, statem.ReplyError(f, shutdownErr))
		} else {
			replies = append(replies, statem.Reply(f, nil))
		}
	}
	for _, w := range b.waiters {
		if w.n == 0 {
			replies = append(replies, statem.Reply(w.from, nil))
		} else {
			replies = append(replies, statem.ReplyError(w.from, ErrClosed))
		}
	}
	reason := b.final
	if reason == nil {
		reason = shutdownErr
	}
	if reason == nil {
		reason = statem.ErrShutdown
	}
	return statem.StopAndReply[phase](reason, b, replies...)
}
