// Package connection is the Connection behaviour (Elixir's
// elixir-ecto/connection) on top of statem: a process that owns one
// outgoing connection, connects, backs off, reconnects, and serves calls,
// casts and messages all the while, connected or not.
//
// It is a thin layer over a statem machine. A connect is an internal
// event inserted with NextEvent, so it runs before any message already
// queued; the backoff delay is a named generic time-out, so ordinary
// messages do not cancel it while every connect or disconnect does.
//
// # Writing a connection, step by step
//
// 1. Choose the data type D: everything the connection owns (the socket,
// the address, a backoff Policy, callers waiting for a connection). It is
// touched only by the connection's goroutine, so it needs no locks.
//
// 2. Write a Handler[D]. Embed Defaults[D] for Connection's defaults and
// override what you need:
//
//	type client struct {
//		connection.Defaults[*state]
//		addr string
//	}
//
//	func (h client) Init(ctx context.Context) (connection.Result[*state], error) {
//		return connection.Connect("init", &state{policy: connection.DefaultPolicy()}), nil
//	}
//
// Init returns Ok (do not connect now), Connect (Start returns, then
// Connect runs before anything else) or Backoff(d). An error makes Start
// fail; statem.ErrIgnore makes it return statem.ErrIgnore.
//
// 3. Connect dials. Pass its ctx to the dialer: Stop cancels it, so a
// dial that hangs never holds up a shutdown. On failure return
// Backoff(s.policy.NextBackOff(), s); on success reset the policy and
// return Ok(s).
//
//	func (h client) Connect(ctx context.Context, info any, s *state) connection.Result[*state] {
//		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", h.addr)
//		if err != nil {
//			return connection.Backoff(s.policy.NextBackOff(), s)
//		}
//		s.policy.Reset()
//		s.sock = c
//		return connection.Ok(s)
//	}
//
// A backoff timer fires Connect with info BackoffExpired{}. A negative
// delay (Infinity, or backoff.Stop from a policy) sets no timer. The
// default policy (DefaultPolicy) is exponential with jitter, capped, and
// never gives up; any github.com/cenkalti/backoff policy fits Policy.
//
// 4. Disconnect tears down and decides what next: Connect (at once, before
// queued messages), Backoff, NoConnect (stay down) or Stop.
//
// 5. HandleCall, HandleCast and HandleInfo serve requests, connected or
// not; the handler decides: reply with an error, keep the From and
// reply later with From.Reply (for example once connected: return
// Connect(info, s) without a reply and answer from Connect), or force a
// connect or disconnect. WithReply sends the reply before the connect or
// disconnect runs:
//
//	if _, err := s.sock.Write(p); err != nil {
//		return connection.Disconnect(err, s).WithReplyError(err)
//	}
//
// 6. Start it and talk to it: Start, Call, Cast, Send, Stop, Done, Err,
// State. Bound calls with a ctx: while a callback runs (a dial, say)
// queued calls wait.
//
// See the TCPConnection example for the whole shape.
package connection
