package statem

import (
	"log/slog"
	"time"
)

// Option configures Start.
type Option func(*options)

type options struct {
	reg          Registry
	name         any
	named        bool
	stateEnter   bool
	startTimeout time.Duration
	tracer       func(TraceEvent)
	logger       *slog.Logger
	logN         int
}

// WithName registers the machine under name in reg before Init runs (nil
// reg means the package's default local registry, see Whereis). If the name
// is taken Start returns an *AlreadyStartedError and Init does not run.
// The name is released before Done is closed, so it can be reused as soon
// as the machine has ended.
func WithName(reg Registry, name any) Option {
	return func(o *options) {
		if reg == nil {
			reg = defaultRegistry
		}
		o.reg, o.name, o.named = reg, name, true
	}
}

// WithStateEnter turns on state enter calls (OTP state_enter callback
// mode): the handler receives an Enter event for the initial state, after
// every state change and on Repeat.
func WithStateEnter() Option {
	return func(o *options) { o.stateEnter = true }
}

// WithStartTimeout bounds Init: if it has not returned after d, Start
// returns ErrStartTimeout. Go cannot kill a goroutine, so Init keeps
// running (its ctx is cancelled); when it returns the machine ends without
// calling Terminate and its name is released.
func WithStartTimeout(d time.Duration) Option {
	return func(o *options) { o.startTimeout = d }
}

// WithTracer installs a trace hook (OTP sys:trace) that sees every event,
// postpone, transition, Reply action and the termination, synchronously on
// the machine's goroutine.
func WithTracer(fn func(TraceEvent)) Option {
	return func(o *options) { o.tracer = fn }
}

// WithLog keeps the last n trace events (OTP sys {log, N}): Status
// returns them, and the log of an abnormal exit includes them.
func WithLog(n int) Option {
	return func(o *options) { o.logN = n }
}

// WithLogger sets the logger for abnormal exits (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}
