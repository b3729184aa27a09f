package connection

import (
	"fmt"
	"time"
)

type kind uint8

const (
	kOk kind = iota + 1
	kConnect
	kBackoff
	kNoConnect
	kDisconnect
	kStop
)

func (k kind) String() string {
	return [...]string{"zero", "Ok", "Connect", "Backoff", "NoConnect", "Disconnect", "Stop"}[k]
}

// Result is what a callback returns: the new data and what to do next.
// Build it with Ok, NoReply, Reply, ReplyError, Connect, Backoff,
// NoConnect, Disconnect or Stop, optionally followed by WithReply,
// WithReplyError or WithIdle. Which results each callback may return is
// listed on Handler; any other (including the zero Result) stops the
// connection with a *BadResultError.
type Result[D any] struct {
	kind     kind
	data     D
	info     any
	backoff  time.Duration
	reason   error
	hasReply bool
	reply    any
	replyErr error
	idle     time.Duration
	hasIdle  bool
}

// Ok continues with data d. From Init it means "do not connect now" (the
// handler may have connected inside Init); from Connect it means
// connected; from HandleCall it means no reply now (as NoReply).
func Ok[D any](d D) Result[D] { return Result[D]{kind: kOk, data: d} }

// NoReply is Ok, named for HandleCall: the caller stays blocked until
// someone calls From.Reply.
func NoReply[D any](d D) Result[D] { return Ok(d) }

// Reply answers the call with v and continues (HandleCall only).
func Reply[D any](v any, d D) Result[D] { return Ok(d).WithReply(v) }

// ReplyError answers the call with err: Call returns (nil, err).
func ReplyError[D any](err error, d D) Result[D] { return Ok(d).WithReplyError(err) }

// Connect runs Connect(ctx, info, d) next, before any message already
// queued, cancelling a pending backoff timer. Allowed from Init,
// Disconnect and the message handlers.
func Connect[D any](info any, d D) Result[D] { return Result[D]{kind: kConnect, data: d, info: info} }

// Backoff stays disconnected and calls Connect(ctx, BackoffExpired{}, d)
// after t, unless a connect or disconnect happens first. Messages do not
// cancel the timer. A negative t (Infinity) sets no timer: the connection
// stays disconnected until a callback returns Connect. Allowed from Init,
// Connect and Disconnect.
func Backoff[D any](t time.Duration, d D) Result[D] {
	return Result[D]{kind: kBackoff, data: d, backoff: t}
}

// NoConnect stays disconnected without a timer (Disconnect only).
func NoConnect[D any](d D) Result[D] { return Result[D]{kind: kNoConnect, data: d} }

// Disconnect runs Disconnect(ctx, info, d) next, before any queued
// message (message handlers only).
func Disconnect[D any](info any, d D) Result[D] {
	return Result[D]{kind: kDisconnect, data: d, info: info}
}

// Stop ends the connection with reason (nil or one wrapping
// statem.ErrShutdown is a normal exit): Terminate runs, then Done closes.
// From Init it makes Start fail with reason.
func Stop[D any](reason error, d D) Result[D] { return Result[D]{kind: kStop, data: d, reason: reason} }

// WithReply makes a HandleCall result answer the caller with v first,
// before the connect, disconnect or stop it asks for.
func (r Result[D]) WithReply(v any) Result[D] {
	r.hasReply, r.reply, r.replyErr = true, v, nil
	return r
}

// WithReplyError is WithReply with an error: Call returns (nil, err).
func (r Result[D]) WithReplyError(err error) Result[D] {
	r.hasReply, r.reply, r.replyErr = true, nil, err
	return r
}

// WithIdle adds gen_server's idle time-out: if no message at all arrives
// within t, HandleInfo receives IdleTimeout{}. Any event cancels it; it is
// independent of the backoff timer.
func (r Result[D]) WithIdle(t time.Duration) Result[D] {
	r.idle, r.hasIdle = t, true
	return r
}

// BackoffExpired is the info Connect receives when a backoff timer fired
// (Connection's :backoff).
type BackoffExpired struct{}

// IdleTimeout is the message HandleInfo receives when WithIdle's time-out
// fired (gen_server's :timeout).
type IdleTimeout struct{}

// BadResultError is the exit reason when a callback returned a result it
// may not return.
type BadResultError struct {
	Callback string // "Init", "Connect", "Disconnect", "HandleCall", ...
	Result   string // what it returned
}

// Error names the callback and the result.
func (e *BadResultError) Error() string {
	return fmt.Sprintf("connection: %s may not return %s", e.Callback, e.Result)
}

// BadMessageError is the exit reason of the Defaults handlers (Elixir
// Connection's {:bad_call, msg}, {:bad_cast, msg}, {:bad_connect, info}).
type BadMessageError struct {
	Callback string
	Message  any
}

// Error names the callback and the message.
func (e *BadMessageError) Error() string {
	return fmt.Sprintf("connection: unexpected %s(%v)", e.Callback, e.Message)
}
