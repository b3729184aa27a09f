/*
Package statem runs state machines with the semantics of Erlang/OTP's
gen_statem: one goroutine per machine, a mailbox of calls, casts and
infos, postponed events, inserted events, state enter calls and three
kinds of time-outs, all ordered exactly as gen_statem orders them.

A machine owns a state S (compared with == to detect state changes) and
data D. Your code is a set of callbacks that receive one event at a time
and return a Result: the next state and data plus a list of actions. The
runtime owns the loop, the queue, the timers and the ordering rules; your
callbacks never sleep on their own mailbox and never race their own timers.

# Usage

Step 1: choose the state and data types. The state says which events are
handled and how; the data is everything else. Only a change of state (not
of data) retries postponed events and cancels the state time-out, so put
anything that changes which events you accept into the state.

	type state string // "off", "on"
	type data struct{ flips int }

Step 2: write the callbacks, in one of two styles. With a Handler, one
method handles every state (OTP handle_event_function):

	type Switch struct{}

	func (Switch) Init(ctx context.Context) (state, data, []statem.Action, error) {
		return "off", data{}, nil, nil
	}

	func (Switch) HandleEvent(ctx context.Context, ev statem.Event, s state, d data) statem.Result[state, data] {
		switch {
		case ev.Type == statem.Cast && ev.Content == "flip" && s == "off":
			d.flips++
			return statem.Next[state](state("on"), d)
		case ev.Type == statem.Cast && ev.Content == "flip":
			return statem.Next[state](state("off"), d)
		case ev.Type == statem.Call && ev.Content == "count":
			return statem.KeepAll[state, data](statem.Reply(ev.From, d.flips))
		}
		return statem.KeepAll[state, data]() // ignore anything else
	}

With StateFuncs, each state has its own function (OTP state_functions):

	h := statem.StateFuncs[state, data]{
		InitFunc: func(ctx context.Context) (state, data, []statem.Action, error) { ... },
		States: map[state]statem.StateFunc[state, data]{
			"off": func(ctx context.Context, ev statem.Event, d data) statem.Result[state, data] { ... },
			"on":  ...,
		},
	}

Init may return ErrIgnore (no machine, no error worth reporting) or any
other error (the start fails). A handler that also implements Terminator
is told when the machine ends; one that implements StatusFormatter
controls what Status and the crash log show.

Step 3: start the machine. Start is synchronous: it returns once Init has
returned. Options name the machine (in the package's local registry or
any Registry, the "via" form), turn on state enter calls, bound the start,
install a tracer or a logger.

	m, err := statem.Start(ctx, Switch{}, statem.WithName(nil, "switch"))
	var ase *statem.AlreadyStartedError
	if errors.As(err, &ase) {
		// ase.Existing is the machine already registered under the name.
	}

Step 4: talk to it. Cast and Send never block (the mailbox is unbounded,
as in Erlang); Call waits for the reply, for its ctx, or for the machine to
end. Inside a callback, answer a call with a Reply action, or keep ev.From
and answer later, from any state or any goroutine, with From.Reply.

	m.Cast("flip")
	n, err := statem.CallAs[int](ctx, m, "count")

A Call whose ctx ends returns ctx.Err(), but the request may still be
handled later; its reply is then dropped. Request sends a call without
waiting and returns a Pending to Wait on later (OTP send_request). A callback must not Call its own
machine: with the callback's ctx it gets ErrCalledSelf instead of a
deadlock. A callback that blocks stops the whole machine: GetState and
Status wait for it, and Stop can only cancel the callback's ctx and wait.
Hand slow work to a goroutine and Cast the result back.

Step 5: use actions. A Result carries a list of actions, run in order:

  - Reply and ReplyError answer callers, immediately.
  - Postpone keeps the current event until the next state change, when it
    is retried, with the other postponed events, in arrival order.
  - NextEvent and NextCall insert events ahead of everything else.
  - SetEventTimeout, SetStateTimeout and SetGenericTimeout start
    time-outs (EventTimeoutAt & co. take absolute deadlines); Infinity or
    CancelTimeout cancels one; UpdateTimeout changes its content.

For the transition options (postpone and each time-out) the last action of
each kind in a list wins. The event time-out is cancelled by any event,
the state time-out by a state change (it is delivered only in the state it
was set for), generic time-outs only explicitly.

Step 6: stop it. A callback returns Stop or StopAndReply (replies first),
or someone calls m.Stop(ctx, reason), which waits until the machine has
ended. Terminate runs in both cases and after a panic or an invalid result
(the reason is then a *PanicError carrying the stack, or a
*BadResultError); it does not run when Init failed or ignored. Done is
closed at the end and Err returns the reason; the name, if any, is free
before Done closes. nil and ErrShutdown (or errors wrapping it) are quiet
reasons; any other is logged.

	<-m.Done()
	if err := m.Err(); !statem.IsQuiet(err) { ... }

# Ordering

After each callback the runtime performs one transition, step by step as
OTP's gen_statem documentation specifies:

 1. Actions are processed in order: replies are sent, the other actions
    set transition options or store inserted events.
 2. With WithStateEnter, the enter call runs for the initial state (old
    state == new state), after a state change and after Repeat. It sees
    Event{Type: Enter, Content: old state} and may only keep the state,
    reply, set time-outs or stop: a state change, Postpone or NextEvent
    from an enter call stops the machine with a *BadResultError.
 3. A postponed event joins the postponed list.
 4. On a state change the postponed events are queued again, oldest first,
    ahead of the events still queued.
 5. Inserted events go ahead of everything, first listed first.
 6. Time-outs: any event cancels the event time-out, a state change
    cancels the state time-out, then the new time-out actions apply. Zero
    time-outs are queued behind the inserted and retried events but ahead
    of messages not yet received; a zero event time-out therefore fires
    only if nothing else is queued.
 7. The next event is taken from: inserted and retried events, then zero
    time-outs, then the mailbox (calls, casts, infos, expired timers, in
    arrival order).

A timer that was cancelled or restarted is never delivered, even if it had
already expired and its message was waiting in the mailbox; and the
content of a time-out is read when it is delivered, so UpdateTimeout also
changes a time-out that expired while the callback was running.

# Introspection

GetState, ReplaceState, Status, Suspend, Resume and Stop are system
requests: they are handled between events, also while the machine is
suspended (a suspended machine holds back calls, casts, infos and
time-outs, in order). Status shows the queue length, the postponed
events and the running time-outs with their remaining time. WithTracer
sees every event, enter call, postpone, transition, Reply action and the
termination; WithLog keeps the last of those for Status and the crash log;
Counters are readable at any time.

# Testing

Time-outs use the standard time package, so machines run unchanged inside
a testing/synctest bubble, where time is virtual: a test can wait an hour
of time-outs in microseconds and assert the exact instant of each event.
A machine must be stopped before its bubble ends.

# Differences from gen_statem

Go cannot kill a goroutine: after a start time-out Init keeps running
(with its ctx cancelled) and the machine ends when Init returns, without
Terminate. Hibernate is accepted and does nothing. There is no hot code
change, no global or remote names, and no links: use Done and Err, or a
supervisor built on them.
*/
package statem
