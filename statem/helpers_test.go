package statem

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// FuncMachine is a Handler built from closures, one per state, like the
// map_statem of OTP's gen_statem suite. Events in a state with no closure
// go to Any; Terminate, if set, is called on termination.
type FuncMachine[S comparable, D any] struct {
	InitF      func(ctx context.Context) (S, D, []Action, error)
	States     map[S]func(ctx context.Context, ev Event, d D) Result[S, D]
	Any        func(ctx context.Context, ev Event, s S, d D) Result[S, D]
	TerminateF func(reason error, s S, d D)
}

func (f *FuncMachine[S, D]) Init(ctx context.Context) (S, D, []Action, error) {
	return f.InitF(ctx)
}

func (f *FuncMachine[S, D]) HandleEvent(ctx context.Context, ev Event, s S, d D) Result[S, D] {
	if fn := f.States[s]; fn != nil {
		return fn(ctx, ev, d)
	}
	if f.Any != nil {
		return f.Any(ctx, ev, s, d)
	}
	return Stop[S](fmt.Errorf("unexpected event %v in state %v", ev, s), d)
}

func (f *FuncMachine[S, D]) Terminate(reason error, s S, d D) {
	if f.TerminateF != nil {
		f.TerminateF(reason, s, d)
	}
}

// initIn returns an InitF that starts in s with d and actions.
func initIn[S comparable, D any](s S, d D, acts ...Action) func(context.Context) (S, D, []Action, error) {
	return func(context.Context) (S, D, []Action, error) { return s, d, acts, nil }
}

// recorder collects lines from the machine's goroutine (handlers,
// tracer) for exact order assertions, like OTP's flush() of the test
// process mailbox.
type recorder struct {
	mu    sync.Mutex
	lines []string
	t0    time.Time
}

func newRecorder() *recorder { return &recorder{t0: time.Now()} }

// add records a line.
func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf(format, args...))
}

// at records a line prefixed with the (virtual) time since the recorder
// was made.
func (r *recorder) at(format string, args ...any) {
	r.add("%v "+format, append([]any{time.Since(r.t0)}, args...)...)
}

// take returns and clears the lines.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lines
	r.lines = nil
	return l
}

// expect compares the recorded lines with want and clears them.
func (r *recorder) expect(t *testing.T, want ...string) {
	t.Helper()
	got := r.take()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("order mismatch\n got: %q\nwant: %q", got, want)
	}
}

// tracer returns a WithTracer option recording every trace event.
func (r *recorder) tracer() Option {
	return WithTracer(func(te TraceEvent) { r.add("%v", te) })
}

// mustStart starts a machine or fails the test.
func mustStart[S comparable, D any](t *testing.T, h Handler[S, D], opts ...Option) *Machine[S, D] {
	t.Helper()
	m, err := Start(context.Background(), h, opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return m
}

// stopped asserts that m has ended.
func stopped[S comparable, D any](t *testing.T, m *Machine[S, D]) {
	t.Helper()
	select {
	case <-m.Done():
	default:
		t.Fatalf("machine still running")
	}
}

// call makes a call that must succeed and returns the reply.
func call[S comparable, D any](t *testing.T, m *Machine[S, D], req any) any {
	t.Helper()
	v, err := m.Call(context.Background(), req)
	if err != nil {
		t.Fatalf("Call(%v): %v", req, err)
	}
	return v
}

// stop stops m normally and checks that it worked.
func stop[S comparable, D any](t *testing.T, m *Machine[S, D]) {
	t.Helper()
	if err := m.Stop(context.Background(), nil); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// discardLogger drops everything.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// bufferLogger logs text into a buffer.
func bufferLogger() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
