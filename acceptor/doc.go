// Package acceptor is a TCP acceptor pool with the semantics of Erlang's
// acceptor_pool, plus Ranch's connection limits and net/http's graceful
// shutdown idiom.
//
// A Pool keeps N acceptor goroutines waiting on each of its listeners.
// The goroutine whose Accept returns becomes that connection's goroutine
// (the hand-off: it calls your Continue), and the pool starts exactly one
// replacement, so N are always waiting. The pool's bookkeeping is a
// statem machine: acceptor goroutines report accepted, cancelled,
// ignored and exited events to it, and it counts restarts, answers
// introspection and runs the shutdown stages.
//
// # Using a pool, step by step
//
// 1. Write the connection handler. Continue runs in the goroutine that
// accepted the socket; it owns the socket until it returns, and the pool
// closes the socket afterwards. Do protocol work such as a handshake here,
// under your own deadline, never before Accept: then a slow client holds
// only its own goroutine.
//
//	func serve(ctx context.Context, c net.Conn) error {
//		c.SetReadDeadline(time.Now().Add(10 * time.Second)) // handshake timeout
//		if err := handshake(c); err != nil {
//			return acceptor.Shutdown(err) // a quiet reason: never counted
//		}
//		c.SetReadDeadline(time.Time{})
//		...
//	}
//
// For per-acceptor setup (acceptor_init) implement Acceptor yourself;
// Init may return Options{AcceptTimeout} or ErrIgnore, and a Terminator
// learns why an acceptor ended before a hand-off.
//
// 2. Make the handler drain. When a shutdown starts, the listeners are
// closed and Draining(ctx) is closed: finish the request at hand and
// return. A handler blocked in Read can be woken cheaply with
//
//	stop := context.AfterFunc(acceptor.DrainingContext(ctx), func() { c.SetReadDeadline(time.Now()) })
//	defer stop()
//
// Later stages cancel ctx and then close the socket, so a handler that
// ignores Draining still ends, just later.
//
// 3. Start the pool and hand it listeners. The Spec's zero values are
// sensible: temporary connections, intensity 1 in 5 s, no grace, 5 s
// shutdown, no connection limit.
//
//	pool, err := acceptor.Start(ctx, acceptor.Spec{ID: "peers", New: acceptor.Func(serve), Grace: 5 * time.Second})
//	ln, err := net.Listen("tcp", ":6881")
//	ref, err := pool.AddListener(ctx, ln, 8) // the pool owns ln now
//
// Several listeners may share a pool (IPv4 and IPv6, say). Closing a
// listener yourself stops accepting on it; its connections go on.
//
// 4. Watch it. Listeners, Children (handed-off connections with peer and
// local address) and Count answer acceptor_pool's which_sockets,
// which_children and count_children. Done and Err tell when and why the
// pool stopped: too many counted failures within the period stop it
// with an *IntensityError (errors.Is ErrMaxIntensity), after the same
// staged shutdown. What counts: Init errors and panics always; ErrIgnore
// never; a connection's abnormal exit only with Restart: Transient; quiet
// reasons (see Quiet) never. A panic in Continue ends that connection
// only; it is logged with its stack.
//
// 5. Limit and pause if you need to (Ranch): Spec.MaxConns makes
// acceptors wait while that many connections run (counted exactly: a
// slot is taken before Accept); Suspend and Resume stop and restart
// accepting while connections go on; WaitForConns blocks until the
// number of connections reaches a value.
//
// 6. Stop it. Shutdown(ctx) closes the listeners and signals Draining,
// waits up to Spec.Grace, cancels the connections' contexts, waits up to
// Spec.Shutdown, closes their sockets, waits up to Spec.Abandon and then
// reports the goroutines that still have not returned in a
// *ShutdownError. Close does all of that at once without waiting.
//
// Accept errors other than a closed listener (EMFILE, ENFILE, ...) are
// logged and make that listener back off, 5 ms doubling to 1 s, as
// net/http does; they never close the listener and never spin.
//
// # Differences from acceptor_pool
//
// The listeners close at the start of a shutdown (acceptor_pool keeps
// accepting during its grace period and relies on the owner closing the
// socket first); accept errors back off instead of killing the listen
// socket; MaxConns, Suspend/Resume and WaitForConns come from Ranch;
// spawn options and hot code change have no Go equivalent. Goroutines
// cannot be killed: the last stage closes sockets and then abandons, and
// says so.
package acceptor
