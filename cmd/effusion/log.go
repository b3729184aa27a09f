package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
)

// cliLogger logs warnings and errors, or everything with verbose. Without
// verbose, the log lines that only repeat the error a session failed with
// are left out: the command prints that error itself as its last line, so
// a disk-full error is shown once, not three times.
func cliLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelWarn
	if verbose {
		lvl = slog.LevelDebug
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})
	if verbose {
		return slog.New(h)
	}
	return slog.New(&quietFatal{Handler: h, state: new(fatalState)})
}

// The records a failing session logs before Await returns its error: the
// session's own, then the crash report of its state machine.
const (
	msgSessionFailed = "session failed"
	msgMachineEnded  = "statem: machine terminated"
)

// quietFatal drops the session's "session failed" record and the crash
// report of the machine that ended with that same error; everything else
// passes. The state is shared by the handlers WithAttrs and WithGroup make.
type quietFatal struct {
	slog.Handler
	state *fatalState
}

type fatalState struct {
	mu    sync.Mutex
	fatal map[string]bool // texts of the errors sessions failed with
}

func (h *quietFatal) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		switch r.Message {
		case msgSessionFailed:
			if e := attrText(r, "err"); e != "" {
				h.state.mu.Lock()
				if h.state.fatal == nil {
					h.state.fatal = make(map[string]bool)
				}
				if len(h.state.fatal) < 16 {
					h.state.fatal[e] = true
				}
				h.state.mu.Unlock()
				return nil
			}
		case msgMachineEnded:
			h.state.mu.Lock()
			seen := h.state.fatal[attrText(r, "reason")]
			h.state.mu.Unlock()
			if seen {
				return nil
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h *quietFatal) WithAttrs(as []slog.Attr) slog.Handler {
	return &quietFatal{Handler: h.Handler.WithAttrs(as), state: h.state}
}

func (h *quietFatal) WithGroup(name string) slog.Handler {
	return &quietFatal{Handler: h.Handler.WithGroup(name), state: h.state}
}

// attrText is the text of r's attribute key ("" when absent).
func attrText(r slog.Record, key string) string {
	var s string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			s = a.Value.Resolve().String()
			return false
		}
		return true
	})
	return s
}
