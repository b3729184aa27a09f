package connection_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/effusion-bt/effusion/connection"
)

// fastPolicy keeps the loopback tests short: 10 ms growing to 50 ms.
func fastPolicy() connection.Policy {
	return &backoff.ExponentialBackOff{InitialInterval: 10 * time.Millisecond, RandomizationFactor: 0.5,
		Multiplier: 2, MaxInterval: 50 * time.Millisecond}
}

// C7 on real loopback: the server disappears (listener and connection
// closed) and comes back on the same port. No call hangs meanwhile (each
// is answered, with errClosed while disconnected), the client reconnects
// by itself, and nothing leaks (goleak in TestMain).
func TestTCPConn_ServerGoesAndComesBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	c, err := dialTCP(addr, fastPolicy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if err := send(ctx, c, "one"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "one" {
		t.Fatalf("peer read %q %v", buf, err)
	}

	// The server goes away.
	peer.Close()
	ln.Close()
	if _, err := recv(ctx, c, 1, time.Second); !errors.Is(err, io.EOF) {
		t.Fatalf("recv after server close = %v", err)
	}
	// While it is away every call is answered promptly.
	for range 20 {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := send(callCtx, c, "lost")
		cancel()
		if !errors.Is(err, errClosed) {
			t.Fatalf("send while the server is down = %v", err)
		}
		time.Sleep(5 * time.Millisecond) // let some backoff steps pass; not a synchronisation
	}
	if p, _, _ := c.State(ctx); p != connection.Disconnected {
		t.Fatalf("phase %v", p)
	}

	// It comes back on the same address; the client finds it.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s not reusable: %v", addr, err)
	}
	defer ln.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	peer, err = ln.Accept()
	if err != nil {
		t.Fatalf("client did not reconnect: %v", err)
	}
	defer peer.Close()
	// The first Call after the reconnect is queued behind it or after it:
	// either way it reaches the new peer.
	for {
		err := send(ctx, c, "two")
		if err == nil {
			break
		}
		if !errors.Is(err, errClosed) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "two" {
		t.Fatalf("peer read %q %v", buf, err)
	}
	if err := c.Stop(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// Stop returns promptly while a dial hangs (a listener whose backlog is
// full never answers; here a blackhole address is simulated by a dial
// whose ctx only Stop cancels).
func TestTCPConn_StopDuringDial(t *testing.T) {
	started := make(chan struct{})
	c, err := connection.Start[int](context.Background(), &FuncConn{
		init: func(context.Context) (R, error) { return connection.Connect("dial", 0), nil },
		connect: func(ctx context.Context, _ any, d int) R {
			close(started)
			var dl net.Dialer
			conn, err := dl.DialContext(ctx, "tcp", "127.0.0.1:1") // refused or cancelled
			if err == nil {
				conn.Close()
			}
			<-ctx.Done()
			return connection.Backoff(time.Hour, d)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Stop(ctx, nil); err != nil {
		t.Fatalf("Stop = %v", err)
	}
}
