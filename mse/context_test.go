package mse

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestDeadlineFromContext: a peer that never answers holds the handshake
// exactly until the context's deadline (virtual time).
func TestDeadlineFromContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := Initiate(ctx, a, testInfoHash, RC4, nil) // b never reads
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("error %v, want a deadline", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Fatalf("gave up after %v, want exactly 10s", d)
		}
	})
}

// TestCancelInterrupts: cancelling the context interrupts a blocked read
// and the error says so.
func TestCancelInterrupts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() {
			// Send a key, then stall.
			k, _ := newDHKey(seeded(1))
			b.Write(k.pub[:])
			io.Copy(io.Discard, b)
		}()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(3*time.Second, cancel)
		start := time.Now()
		_, err := Respond(ctx, a, lookupOne(testInfoHash), Prefer.Select)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
		var he *HandshakeError
		if !errors.As(err, &he) || he.Step == "" {
			t.Fatalf("error %v is not a *HandshakeError naming its step", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("gave up after %v, want exactly 3s", d)
		}
	})
}

// TestCancelledBefore: a context already done starts nothing.
func TestCancelledBefore(t *testing.T) {
	a, _ := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Initiate(ctx, a, testInfoHash, RC4, nil); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// deadlineConn records SetDeadline calls.
type deadlineConn struct {
	net.Conn
	mu   sync.Mutex
	last time.Time
	n    int
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.last, c.n = t, c.n+1
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}

// TestDeadlineCleared: after a successful handshake under a context with
// a deadline, the connection has no deadline left.
func TestDeadlineCleared(t *testing.T) {
	a, b := tcpPair(t)
	da, db := &deadlineConn{Conn: a}, &deadlineConn{Conn: b}
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Respond(ctx, db, lookupOne(testInfoHash), Prefer.Select)
		done <- err
	}()
	if _, err := Initiate(ctx, da, testInfoHash, RC4|Plaintext, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, c := range []*deadlineConn{da, db} {
		if c.n < 2 || !c.last.IsZero() {
			t.Fatalf("%d SetDeadline calls, last %v: want a deadline set then cleared", c.n, c.last)
		}
	}
}
