package acceptor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
)

// memAddr is an address of the in-memory network.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// addrConn gives a net.Pipe end real-looking addresses.
type addrConn struct {
	net.Conn
	local, remote net.Addr
}

func (c addrConn) LocalAddr() net.Addr  { return c.local }
func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// memListener is a net.Listener over net.Pipe, with a backlog and
// SetDeadline, for tests inside synctest bubbles (real sockets are not
// durably blocking there).
type memListener struct {
	addr    memAddr
	backlog chan net.Conn
	closed  chan struct{}
	once    sync.Once

	mu       sync.Mutex
	deadline time.Time
	changed  chan struct{} // closed and replaced on SetDeadline
	fail     func() error  // if set and non-nil result: Accept returns it
	accepts  []time.Time   // when Accept was called
	nextPeer int
}

func newMemListener(name string) *memListener {
	return &memListener{addr: memAddr(name), backlog: make(chan net.Conn, 64),
		closed: make(chan struct{}), changed: make(chan struct{})}
}

func (l *memListener) Addr() net.Addr { return l.addr }

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		for {
			select {
			case c := <-l.backlog:
				c.Close()
			default:
				return
			}
		}
	})
	return nil
}

func (l *memListener) SetDeadline(t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deadline = t
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

func (l *memListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.accepts = append(l.accepts, time.Now())
	fail := l.fail
	l.mu.Unlock()
	if fail != nil {
		if err := fail(); err != nil {
			return nil, err
		}
	}
	for {
		select {
		case <-l.closed:
			return nil, net.ErrClosed
		default:
		}
		l.mu.Lock()
		dl, changed := l.deadline, l.changed
		l.mu.Unlock()
		var timeout <-chan time.Time
		var t *time.Timer
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return nil, os.ErrDeadlineExceeded
			}
			t = time.NewTimer(d)
			timeout = t.C
		}
		stop := func() {
			if t != nil {
				t.Stop()
			}
		}
		select {
		case c := <-l.backlog:
			stop()
			return c, nil
		case <-l.closed:
			stop()
			return nil, net.ErrClosed
		case <-timeout:
			return nil, os.ErrDeadlineExceeded
		case <-changed:
			stop()
		}
	}
}

var errRefused = errors.New("mem: connection refused")

// Dial connects a client; it succeeds as soon as the connection is in the
// backlog, like TCP.
func (l *memListener) Dial() (net.Conn, error) {
	l.mu.Lock()
	l.nextPeer++
	peer := memAddr(fmt.Sprintf("client-%d", l.nextPeer))
	l.mu.Unlock()
	c1, c2 := net.Pipe()
	client := addrConn{c1, peer, l.addr}
	server := addrConn{c2, l.addr, peer}
	select {
	case <-l.closed:
		return nil, errRefused
	default:
	}
	select {
	case l.backlog <- server:
		return client, nil
	case <-l.closed:
		return nil, errRefused
	}
}

// echo copies until EOF; it is acceptor_pool_test's echo loop.
func echo(ctx context.Context, c net.Conn) error {
	_, err := io.Copy(c, c)
	return err
}

// ping writes msg on c and expects it back.
func ping(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %q: %v", msg, err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}

// logBuf is a concurrency-safe slog sink.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLog() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

// acc is a closure-driven Acceptor.
type acc struct {
	init func(ctx context.Context, ln acceptor.ListenerInfo) (acceptor.Options, error)
	cont func(ctx context.Context, c net.Conn) error
	term func(reason error)
}

func (a *acc) Init(ctx context.Context, ln acceptor.ListenerInfo) (acceptor.Options, error) {
	if a.init == nil {
		return acceptor.Options{}, nil
	}
	return a.init(ctx, ln)
}

func (a *acc) Continue(ctx context.Context, c net.Conn) error {
	if a.cont == nil {
		return echo(ctx, c)
	}
	return a.cont(ctx, c)
}

func (a *acc) Terminate(reason error) {
	if a.term != nil {
		a.term(reason)
	}
}

// mustStart starts a pool for a test and stops it at the end.
func mustStart(t *testing.T, spec acceptor.Spec) *acceptor.Pool {
	t.Helper()
	if spec.Logger == nil {
		spec.Logger, _ = newLog()
	}
	p, err := acceptor.Start(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		<-p.Done()
	})
	return p
}

func mustAdd(t *testing.T, p *acceptor.Pool, ln net.Listener, n int) acceptor.Ref {
	t.Helper()
	ref, err := p.AddListener(context.Background(), ln, n)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func mustCount(t *testing.T, p *acceptor.Pool) acceptor.Counts {
	t.Helper()
	n, err := p.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mustDial(t *testing.T, l *memListener) net.Conn {
	t.Helper()
	c, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
