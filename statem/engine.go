package statem

import "fmt"

// This file is the machine's loop: where events come from and the
// transition algorithm (steps 1-7 of OTP's transition_option doc).

// loop handles events until the machine stops. The queue order is: events
// inserted by NextEvent and retried postponed events (m.queue, a stack
// whose top is the next event), then zero time-outs (m.t0q), then the
// mailbox.
func (m *Machine[S, D]) loop() {
	for {
		var ev Event
		if n := len(m.queue); n > 0 {
			ev = m.queue[n-1]
			m.queue[n-1] = Event{}
			m.queue = m.queue[:n-1]
			m.cnt.queued.Add(1)
		} else if len(m.t0q) > 0 {
			ev = m.popT0()
			m.cnt.timeouts.Add(1)
		} else {
			var ok bool
			if ev, ok = m.receive(); !ok {
				return
			}
		}
		if m.opts.tracer != nil {
			m.opts.tracer(TraceEvent{Kind: TraceHandle, State: m.state, Event: ev})
		}
		res := m.h.HandleEvent(m.ctx, ev, m.state, m.data)
		if !m.transition(&ev, &res) {
			return
		}
	}
}

// receive returns the next external event. On the way it runs system
// requests, holds events back while suspended and drops stale timer
// messages. It reports false when a stop request was received.
func (m *Machine[S, D]) receive() (Event, bool) {
	for {
		var e envelope
		if !m.suspended && m.hi < len(m.held) {
			e = m.held[m.hi]
			m.held[m.hi] = envelope{}
			m.hi++
			if m.hi == len(m.held) {
				m.held, m.hi = m.held[:0], 0
			}
		} else {
			e = m.in.next(&m.mb)
		}
		switch e.kind {
		case msgSys:
			req := e.sys()
			req.done <- req.fn()
			continue
		case msgStop:
			req := e.sys()
			m.exit(req.reason, true, m.state, m.data)
			m.stopReq = req
			return Event{}, false
		}
		if m.suspended {
			m.held = append(m.held, e)
			continue
		}
		switch e.kind {
		case msgCast:
			m.cnt.received.Add(1)
			return Event{Type: Cast, Content: e.msg}, true
		case msgInfo:
			m.cnt.received.Add(1)
			return Event{Type: Info, Content: e.msg}, true
		case msgCall:
			m.cnt.received.Add(1)
			return Event{Type: Call, From: e.slot().from(), Content: e.msg}, true
		case msgTimer:
			if ev, ok := m.timerFired(e.timer()); ok {
				m.cnt.timeouts.Add(1)
				return ev, true
			}
		}
	}
}

// exit records why and in which state the machine ends; the goroutine's
// deferred finish does the rest.
func (m *Machine[S, D]) exit(reason error, terminate bool, s S, d D) {
	m.exitReason, m.exitTerminate, m.exitState, m.exitData = reason, terminate, s, d
}

// bad stops the machine with a *BadResultError.
func (m *Machine[S, D]) bad(s S, d D, ev Event, format string, args ...any) bool {
	m.exit(&BadResultError{State: s, Event: ev, Reason: fmt.Sprintf(format, args...)}, true, s, d)
	return false
}

// transition applies the result of handling ev (nil for Init's result) and
// reports whether the machine goes on.
func (m *Machine[S, D]) transition(ev *Event, res *Result[S, D]) bool {
	cur := m.state
	next, data := cur, m.data
	repeat := false
	var evv Event
	if ev != nil {
		evv = *ev
	}
	switch res.kind {
	case resNext:
		next, data = res.state, res.data
	case resKeep:
		data = res.data
	case resKeepAll:
	case resRepeat:
		data, repeat = res.data, true
	case resRepeatAll:
		repeat = true
	case resStop, resStopReply:
		return m.stop(res, cur, evv)
	default:
		if res.reason != nil { // StateFuncs: no function for the state
			return m.bad(cur, data, evv, "%v", res.reason)
		}
		return m.bad(cur, data, evv, "invalid (zero) Result")
	}
	// Step 1: replies now; other actions set options or are stored.
	postpone := false
	for i := range res.nacts {
		a := res.action(i)
		switch a.kind {
		case actReply, actReplyError:
			m.reply(a, cur, evv)
		case actPostpone:
			postpone = ev != nil // ignored for Init
		case actNextEvent:
			if a.ev < Call || a.ev > StateTimeout {
				return m.bad(cur, data, evv, "NextEvent with invalid event type %v", a.ev)
			}
			m.nextEvs = append(m.nextEvs, Event{Type: a.ev, From: a.from, Name: a.name, Content: a.content})
		case actSetTimeout, actCancelTimeout, actUpdateTimeout:
			if !m.timeoutAction(a) {
				return m.bad(cur, data, evv, "time-out action with invalid type %v", a.ev)
			}
		case actHibernate:
		default:
			return m.bad(cur, data, evv, "invalid (zero) Action at index %d", i)
		}
	}
	// Step 2: state enter calls.
	if m.opts.stateEnter && (ev == nil || repeat || next != cur) {
		old := cur
		if ev == nil {
			old = next
		}
		var ok bool
		if data, ok = m.enter(old, next, data); !ok {
			return false
		}
	}
	if m.opts.tracer != nil && ev != nil {
		m.opts.tracer(TraceEvent{Kind: TraceTransition, State: cur, Event: evv, NextState: next})
	}
	// Step 3: postpone.
	if postpone {
		m.postponed = append(m.postponed, evv)
		m.cnt.postponed.Add(1)
		if m.opts.tracer != nil {
			m.opts.tracer(TraceEvent{Kind: TracePostpone, State: cur, Event: evv})
		}
	}
	m.state, m.data = next, data
	// Any event cancels the event time-out.
	if len(m.timers) > 0 {
		m.cancelTimer(EventTimeout, nil)
	}
	if next != cur {
		m.cnt.changes.Add(1)
		// Step 4: retry postponed events, oldest first.
		for i := len(m.postponed) - 1; i >= 0; i-- {
			m.queue = append(m.queue, m.postponed[i])
		}
		clear(m.postponed)
		m.postponed = m.postponed[:0]
		m.cancelTimer(StateTimeout, nil)
	}
	// Step 6: time-outs (zero ones go to t0q, behind the queue).
	if len(m.touts) > 0 {
		m.applyTimeouts()
	}
	// Step 5: inserted events go before everything, first listed first.
	for i := len(m.nextEvs) - 1; i >= 0; i-- {
		m.queue = append(m.queue, m.nextEvs[i])
	}
	clear(m.nextEvs)
	m.nextEvs = m.nextEvs[:0]
	return true
}

// timeoutAction validates a time-out action and stores it for step 6.
func (m *Machine[S, D]) timeoutAction(a *Action) bool {
	switch a.ev {
	case EventTimeout, StateTimeout:
		a.name = nil
	case GenericTimeout:
	default:
		return false
	}
	m.touts = append(m.touts, *a)
	return true
}

// reply sends a Reply action's answer.
func (m *Machine[S, D]) reply(a *Action, s S, ev Event) {
	m.cnt.replies.Add(1)
	if a.kind == actReplyError {
		err, _ := a.content.(error)
		if m.opts.tracer != nil {
			m.opts.tracer(TraceEvent{Kind: TraceReply, State: s, Event: ev, ReplyErr: err})
		}
		a.from.ReplyError(err)
		return
	}
	if m.opts.tracer != nil {
		m.opts.tracer(TraceEvent{Kind: TraceReply, State: s, Event: ev, Reply: a.content})
	}
	a.from.Reply(a.content)
}

// stop handles Stop and StopAndReply results: replies first, then exit
// (Terminate runs in finish). As OTP's reply_then_terminate does, the
// replies are sent in order up to the first action that is not a reply,
// and only then does the machine fail with a bad result: the callers
// answered before it keep their answers.
func (m *Machine[S, D]) stop(res *Result[S, D], s S, ev Event) bool {
	for i := range res.nacts {
		a := res.action(i)
		if a.kind != actReply && a.kind != actReplyError {
			return m.bad(s, res.data, ev, "StopAndReply with a non-reply action at index %d", i)
		}
		m.reply(a, s, ev)
	}
	m.exit(res.reason, true, s, res.data)
	return false
}

// enter runs the state enter call(s) for state s, entered from old, and
// returns the data. A Repeat result runs the enter call again with the
// same old state.
func (m *Machine[S, D]) enter(old, s S, data D) (D, bool) {
	for {
		ev := Event{Type: Enter, Content: old}
		m.cnt.enters.Add(1)
		if m.opts.tracer != nil {
			m.opts.tracer(TraceEvent{Kind: TraceHandle, State: s, Event: ev})
		}
		m.inEnter, m.enterState, m.enterData = true, s, data
		res := m.h.HandleEvent(m.ctx, ev, s, data)
		m.inEnter = false
		var zero D
		m.enterData = zero
		again := false
		switch res.kind {
		case resNext:
			if res.state != s {
				return data, m.bad(s, data, ev, "state change to %v from a state enter call", res.state)
			}
			data = res.data
		case resKeep:
			data = res.data
		case resKeepAll:
		case resRepeat:
			data, again = res.data, true
		case resRepeatAll:
			again = true
		case resStop, resStopReply:
			return data, m.stop(&res, s, ev)
		default:
			if res.reason != nil {
				return data, m.bad(s, data, ev, "%v", res.reason)
			}
			return data, m.bad(s, data, ev, "invalid (zero) Result")
		}
		for i := range res.nacts {
			a := res.action(i)
			switch a.kind {
			case actReply, actReplyError:
				m.reply(a, s, ev)
			case actPostpone:
				return data, m.bad(s, data, ev, "Postpone from a state enter call")
			case actNextEvent:
				return data, m.bad(s, data, ev, "NextEvent from a state enter call")
			case actSetTimeout, actCancelTimeout, actUpdateTimeout:
				if !m.timeoutAction(a) {
					return data, m.bad(s, data, ev, "time-out action with invalid type %v", a.ev)
				}
			case actHibernate:
			default:
				return data, m.bad(s, data, ev, "invalid (zero) Action at index %d", i)
			}
		}
		if !again {
			return data, true
		}
	}
}
