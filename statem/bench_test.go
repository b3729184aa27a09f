package statem

import (
	"context"
	"testing"
)

// Benchmarks of the hot paths with, in the same file, the baselines they
// are compared with: a bare goroutine draining a buffered channel (for
// Cast) and a bare request/response channel pair (for Call). Each does
// the same work per message: add one to a counter.

// counter counts casts and answers calls with the count.
type counter struct{}

func (counter) Init(context.Context) (int, int, []Action, error) { return 0, 0, nil, nil }

func (counter) HandleEvent(_ context.Context, ev Event, s int, n int) Result[int, int] {
	if ev.Type == Call {
		return Keep[int](n+1, Reply(ev.From, n+1))
	}
	return Keep[int](n + 1)
}

// window is the number of messages in flight in the throughput
// benchmarks: the capacity of the baseline's channel, and how many casts
// BenchmarkCast sends before waiting for the machine to catch up.
const window = 1024

// BenchmarkCast measures the throughput of Cast and its handling, with at
// most window casts in flight, like the baseline's buffered channel.
func BenchmarkCast(b *testing.B) { benchCast(b) }

// BenchmarkCastLogged is BenchmarkCast with a 16-event log (WithLog), as
// the session machines keep for the daemon's processes view: the cost of
// the log per event.
func BenchmarkCastLogged(b *testing.B) { benchCast(b, WithLog(16)) }

func benchCast(b *testing.B, opts ...Option) {
	m, err := Start(context.Background(), counter{}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop(context.Background(), nil)
	msg := any("tick")
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Cast(msg)
		if i++; i%window == 0 {
			if _, err := m.Call(ctx, "sync"); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := m.Call(ctx, "sync"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCastBacklog casts without ever waiting: the unbounded mailbox
// holds all b.N messages until the machine catches up. It shows the cost
// of a large backlog (cold memory, garbage collection); not a goal.
func BenchmarkCastBacklog(b *testing.B) {
	m, err := Start(context.Background(), counter{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop(context.Background(), nil)
	msg := any("tick")
	b.ReportAllocs()
	for b.Loop() {
		m.Cast(msg)
	}
	if _, err := m.Call(context.Background(), "sync"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkBareLoop is the baseline for BenchmarkCast: the same work with
// a goroutine reading a buffered channel.
func BenchmarkBareLoop(b *testing.B) {
	in := make(chan any, window)
	sync := make(chan int)
	go func() {
		n := 0
		for msg := range in {
			if msg == nil {
				sync <- n
				continue
			}
			n++
		}
	}()
	defer close(in)
	msg := any("tick")
	b.ReportAllocs()
	for b.Loop() {
		in <- msg
	}
	in <- nil
	<-sync
}

// BenchmarkCall measures one Call round trip.
func BenchmarkCall(b *testing.B) {
	m, err := Start(context.Background(), counter{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Stop(context.Background(), nil)
	ctx := context.Background()
	msg := any("get")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Call(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareRequestResponse is the baseline for BenchmarkCall: a
// request channel and a response channel to one goroutine.
func BenchmarkBareRequestResponse(b *testing.B) {
	req := make(chan any)
	resp := make(chan any)
	go func() {
		n := 0
		for range req {
			n++
			resp <- n
		}
	}()
	defer close(req)
	msg := any("get")
	b.ReportAllocs()
	for b.Loop() {
		req <- msg
		<-resp
	}
}
