package connection

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// From identifies a blocked caller; reply with From.Reply from any
// goroutine, now or later (Connection.reply/2).
type From = statem.From

// Option configures Start: any statem option (WithName, WithLogger,
// WithTracer, WithStartTimeout).
type Option = statem.Option

// Infinity as a Backoff duration sets no timer.
const Infinity = statem.Infinity

// Handler is the callback set of a connection (Elixir's Connection
// behaviour). All callbacks run on the connection's own goroutine, one at
// a time, so D needs no locking. Embed Defaults to get Connection's
// defaults for the callbacks you do not need.
//
// The ctx given to every callback is cancelled by Conn.Stop, so a dial
// that hangs in Connect never holds up a shutdown.
type Handler[D any] interface {
	// Init builds the initial data. Results: Ok (do not connect now),
	// Connect (Start returns, then Connect runs before any queued
	// message), Backoff. An error, or Stop, makes Start fail with it;
	// statem.ErrIgnore makes Start return statem.ErrIgnore.
	Init(ctx context.Context) (Result[D], error)
	// Connect tries to connect; info is what Connect(...) carried or
	// BackoffExpired{}. Results: Ok (connected), Backoff, Stop.
	Connect(ctx context.Context, info any, d D) Result[D]
	// Disconnect tears down. Results: Connect, Backoff, NoConnect, Stop.
	Disconnect(ctx context.Context, info any, d D) Result[D]
	// HandleCall handles Conn.Call, also while disconnected. Results: Ok or
	// NoReply (reply later via From.Reply), Reply, ReplyError, Connect,
	// Disconnect, Stop; the last three with or without WithReply (a reply
	// is sent before the connect or disconnect runs).
	HandleCall(ctx context.Context, req any, from From, d D) Result[D]
	// HandleCast handles Conn.Cast. Results: Ok, Connect, Disconnect, Stop.
	HandleCast(ctx context.Context, msg any, d D) Result[D]
	// HandleInfo handles Conn.Send and IdleTimeout{}. Results as HandleCast.
	HandleInfo(ctx context.Context, msg any, d D) Result[D]
	// Terminate runs when the connection stops after Init succeeded, with
	// the reason (nil for normal).
	Terminate(reason error, d D)
}

// Defaults provides Connection's default callbacks: Connect, Disconnect,
// HandleCall and HandleCast stop with a *BadMessageError, HandleInfo
// ignores the message, Terminate does nothing. Embed it and override.
type Defaults[D any] struct{}

// Connect stops with a *BadMessageError.
func (Defaults[D]) Connect(_ context.Context, info any, d D) Result[D] {
	return Stop(&BadMessageError{"Connect", info}, d)
}

// Disconnect stops with a *BadMessageError.
func (Defaults[D]) Disconnect(_ context.Context, info any, d D) Result[D] {
	return Stop(&BadMessageError{"Disconnect", info}, d)
}

// HandleCall stops with a *BadMessageError.
func (Defaults[D]) HandleCall(_ context.Context, req any, _ From, d D) Result[D] {
	return Stop(&BadMessageError{"HandleCall", req}, d)
}

// HandleCast stops with a *BadMessageError.
func (Defaults[D]) HandleCast(_ context.Context, msg any, d D) Result[D] {
	return Stop(&BadMessageError{"HandleCast", msg}, d)
}

// HandleInfo ignores msg.
func (Defaults[D]) HandleInfo(_ context.Context, _ any, d D) Result[D] { return Ok(d) }

// Terminate does nothing.
func (Defaults[D]) Terminate(error, D) {}

// Phase is whether the last connect succeeded.
type Phase uint8

const (
	// Disconnected: not connected (backing off or NoConnect).
	Disconnected Phase = iota + 1
	// Connected: Connect returned Ok (or Init did).
	Connected
)

// String returns "connected" or "disconnected".
func (p Phase) String() string {
	if p == Connected {
		return "connected"
	}
	return "disconnected"
}

// Conn is a running connection process. All methods are safe for
// concurrent use.
type Conn[D any] struct {
	m    *statem.Machine[Phase, D]
	stop context.CancelFunc // cancels the callbacks' ctx
}

// Start runs h.Init and starts the connection's goroutine; with a Connect
// result it returns before connecting (Connection acks first). ctx bounds
// only the start. Errors: Init's error or Stop reason, statem.ErrIgnore,
// *BadResultError, and statem's start errors.
func Start[D any](ctx context.Context, h Handler[D], opts ...Option) (*Conn[D], error) {
	life, stop := context.WithCancel(context.Background())
	m, err := statem.Start(ctx, statem.Handler[Phase, D](&machine[D]{h: h, life: life, stop: stop}), opts...)
	if err != nil {
		stop()
		return nil, err
	}
	return &Conn[D]{m: m, stop: stop}, nil
}

// Call sends req to HandleCall and waits for the reply, for ctx, or for
// the connection to stop (an error satisfying errors.Is(err,
// statem.ErrStopped)).
func (c *Conn[D]) Call(ctx context.Context, req any) (any, error) { return c.m.Call(ctx, req) }

// Cast sends msg to HandleCast. It never blocks; it fails with
// statem.ErrStopped after the connection stopped.
func (c *Conn[D]) Cast(msg any) error { return c.m.Cast(msg) }

// Send sends msg to HandleInfo, with Cast's contract.
func (c *Conn[D]) Send(msg any) error { return c.m.Send(msg) }

// Stop cancels the callbacks' ctx (so a blocked Connect returns), then
// stops the connection with reason and waits for Terminate. Errors as
// statem's Machine.Stop.
func (c *Conn[D]) Stop(ctx context.Context, reason error) error {
	c.stop()
	return c.m.Stop(ctx, reason)
}

// Done is closed when the connection has stopped.
func (c *Conn[D]) Done() <-chan struct{} { return c.m.Done() }

// Err is the exit reason after Done (nil for a normal stop).
func (c *Conn[D]) Err() error { return c.m.Err() }

// State returns the phase and a snapshot of the data (sys:get_state).
func (c *Conn[D]) State(ctx context.Context) (Phase, D, error) { return c.m.GetState(ctx) }

// Machine exposes the underlying statem machine (Status, Suspend,
// Counters, registries).
func (c *Conn[D]) Machine() *statem.Machine[Phase, D] { return c.m }

// backoffTimer names the generic time-out that carries Backoff.
type backoffTimer struct{}

type connectReq struct{ info any }
type disconnectReq struct{ info any }

// machine runs a Handler on statem.
type machine[D any] struct {
	h    Handler[D]
	life context.Context    // cancelled by Conn.Stop
	stop context.CancelFunc // cancels life; also run by Terminate, which follows every stop after Init

	once sync.Once
	ctx  context.Context // the machine's ctx, also cancelled by Conn.Stop
}

func (m *machine[D]) callbackCtx(ctx context.Context) context.Context {
	m.once.Do(func() {
		c, cancel := context.WithCancel(ctx)
		context.AfterFunc(m.life, cancel)
		m.ctx = c
	})
	return m.ctx
}

func (m *machine[D]) Init(ctx context.Context) (Phase, D, []statem.Action, error) {
	var zero D
	r, err := m.h.Init(ctx)
	if err != nil {
		return 0, zero, nil, err
	}
	switch r.kind {
	case kOk:
		return Connected, r.data, idle(r), nil
	case kConnect:
		return Disconnected, r.data, append(idle(r), statem.NextEvent(statem.Internal, connectReq{r.info})), nil
	case kBackoff:
		return Disconnected, r.data, append(idle(r), backoffAction(r.backoff)), nil
	case kStop:
		if r.reason == nil {
			return 0, zero, nil, errors.New("connection: Init returned Stop(nil)")
		}
		return 0, zero, nil, r.reason
	}
	return 0, zero, nil, &BadResultError{"Init", r.kind.String()}
}

func (m *machine[D]) Terminate(reason error, _ Phase, d D) {
	defer m.stop()
	m.h.Terminate(reason, d)
}

func (m *machine[D]) HandleEvent(sctx context.Context, ev statem.Event, s Phase, d D) statem.Result[Phase, D] {
	ctx := m.callbackCtx(sctx)
	switch ev.Type {
	case statem.Internal:
		switch req := ev.Content.(type) {
		case connectReq:
			return m.afterConnect(m.h.Connect(ctx, req.info, d), d)
		case disconnectReq:
			return m.afterDisconnect(m.h.Disconnect(ctx, req.info, d), d)
		}
	case statem.GenericTimeout:
		if _, ok := ev.Name.(backoffTimer); ok {
			return m.afterConnect(m.h.Connect(ctx, BackoffExpired{}, d), d)
		}
	case statem.Call:
		return m.afterMessage("HandleCall", m.h.HandleCall(ctx, ev.Content, ev.From, d), ev.From, d)
	case statem.Cast:
		return m.afterMessage("HandleCast", m.h.HandleCast(ctx, ev.Content, d), From{}, d)
	case statem.Info:
		return m.afterMessage("HandleInfo", m.h.HandleInfo(ctx, ev.Content, d), From{}, d)
	case statem.EventTimeout:
		return m.afterMessage("HandleInfo", m.h.HandleInfo(ctx, IdleTimeout{}, d), From{}, d)
	}
	return statem.KeepAll[Phase, D]()
}

// cancelBackoff is Connection's cancel_backoff: every connect or
// disconnect transition starts with it.
var cancelBackoff = statem.CancelTimeout(statem.GenericTimeout, backoffTimer{})

func backoffAction(t time.Duration) statem.Action {
	if t < 0 {
		return cancelBackoff
	}
	return statem.SetGenericTimeout(backoffTimer{}, t, nil)
}

func idle[D any](r Result[D]) []statem.Action {
	if !r.hasIdle {
		return nil
	}
	return []statem.Action{statem.SetEventTimeout(r.idle, nil)}
}

func bad[D any](cb string, r Result[D], d D) statem.Result[Phase, D] {
	s := r.kind.String()
	if r.hasReply {
		s += " with a reply"
	}
	return statem.Stop[Phase](error(&BadResultError{cb, s}), d)
}

func (m *machine[D]) afterConnect(r Result[D], d D) statem.Result[Phase, D] {
	if r.hasReply {
		return bad("Connect", r, d)
	}
	switch r.kind {
	case kOk:
		return statem.Next(Connected, r.data, append(idle(r), cancelBackoff)...)
	case kBackoff:
		return statem.Next(Disconnected, r.data, cancelBackoff, backoffAction(r.backoff))
	case kStop:
		return statem.Stop[Phase](r.reason, r.data)
	}
	return bad("Connect", r, d)
}

func (m *machine[D]) afterDisconnect(r Result[D], d D) statem.Result[Phase, D] {
	if r.hasReply {
		return bad("Disconnect", r, d)
	}
	switch r.kind {
	case kConnect:
		return statem.Next(Disconnected, r.data, append(idle(r), cancelBackoff, statem.NextEvent(statem.Internal, connectReq{r.info}))...)
	case kBackoff:
		return statem.Next(Disconnected, r.data, cancelBackoff, backoffAction(r.backoff))
	case kNoConnect:
		return statem.Next(Disconnected, r.data, append(idle(r), cancelBackoff)...)
	case kStop:
		return statem.Stop[Phase](r.reason, r.data)
	}
	return bad("Disconnect", r, d)
}

func (m *machine[D]) afterMessage(cb string, r Result[D], from From, d D) statem.Result[Phase, D] {
	var acts []statem.Action
	if r.hasReply {
		if from.IsZero() {
			return bad(cb, r, d)
		}
		if r.replyErr != nil {
			acts = append(acts, statem.ReplyError(from, r.replyErr))
		} else {
			acts = append(acts, statem.Reply(from, r.reply))
		}
	}
	switch r.kind {
	case kOk:
		return statem.Keep[Phase](r.data, append(acts, idle(r)...)...)
	case kConnect:
		// The connect transition itself cancels the backoff timer
		// (cancel_backoff), when the inserted event runs.
		return statem.Keep[Phase](r.data, append(acts, append(idle(r), statem.NextEvent(statem.Internal, connectReq{r.info}))...)...)
	case kDisconnect:
		return statem.Keep[Phase](r.data, append(acts, append(idle(r), statem.NextEvent(statem.Internal, disconnectReq{r.info}))...)...)
	case kStop:
		return statem.StopAndReply[Phase](r.reason, r.data, acts...)
	}
	return bad(cb, r, d)
}

// FormatStatus forwards to the handler's FormatStatus, if it has one
// (Connection's format_status/2), so secrets in D stay out of Status and
// crash logs.
func (m *machine[D]) FormatStatus(st statem.Status[Phase, D]) statem.Status[Phase, D] {
	if f, ok := m.h.(statem.StatusFormatter[Phase, D]); ok {
		return f.FormatStatus(st)
	}
	return st
}
