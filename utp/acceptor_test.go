package utp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
)

// The project's acceptor pool serves a Socket's Listener view: uTP clients
// are echoed; the pool's shutdown closes the view only, so the Socket still
// dials, and new SYNs are refused.
func TestAcceptorPoolOnListenerView(t *testing.T) {
	a, b := socketPair(t, Config{})
	pool, err := acceptor.Start(context.Background(), acceptor.Spec{
		ID: "utp-echo",
		New: acceptor.Func(func(ctx context.Context, c net.Conn) error {
			stop := context.AfterFunc(acceptor.DrainingContext(ctx), func() { c.SetReadDeadline(time.Now()) })
			defer stop()
			_, err := io.Copy(c, c)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil
			}
			return err
		}),
		Grace: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.AddListener(context.Background(), b.Listener(), 2); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		c, err := a.Dial(b.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "line %d\n", i)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != fmt.Sprintf("line %d\n", i) {
			t.Fatalf("echo %q %v", line, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pool.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The Socket lives on: b dials a.
	go func() {
		c, err := a.Accept()
		if err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := b.Dial(a.Addr().String())
	if err != nil {
		t.Fatal("dial after the pool closed its listener:", err)
	}
	if got, err := io.ReadAll(c); err != nil || string(got) != "x" {
		t.Fatalf("read %q %v", got, err)
	}
	c.Close()
	// No listener view is open on b any more: SYNs are refused.
	if _, err := a.Dial(b.Addr().String()); !errors.Is(err, ErrRefused) {
		t.Fatalf("dial to a closed listener: %v", err)
	}
}

// Accept honours the Socket's deadline.
func TestSocketAcceptDeadline(t *testing.T) {
	a, _ := socketPair(t, Config{})
	a.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := a.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("accept: %v", err)
	}
	a.SetDeadline(time.Time{})
	l := a.Listener()
	l.(interface{ SetDeadline(time.Time) error }).SetDeadline(time.Unix(1, 0))
	if _, err := l.Accept(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("view accept: %v", err)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept on a closed view: %v", err)
	}
}
