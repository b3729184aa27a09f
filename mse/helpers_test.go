package mse

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testInfoHash = [20]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

// lookupOne knows the one torrent ih.
func lookupOne(ih [20]byte) func([20]byte) ([20]byte, bool) {
	want := SKeyHash(ih)
	return func(h [20]byte) ([20]byte, bool) {
		if h == want {
			return ih, true
		}
		return [20]byte{}, false
	}
}

// tcpPair returns both ends of a loopback TCP connection, closed at
// cleanup.
func tcpPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	a, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		a.Close()
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// testCtx is a guard against a hung test, not a timing.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// seeded returns a deterministic random stream.
func seeded(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// countConn counts the bytes read from a connection.
type countConn struct {
	net.Conn
	read atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// recordConn keeps a copy of what is written to a connection.
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) {
	c.buf.Write(p)
	return c.Conn.Write(p)
}

// result of one side of a handshake run in a goroutine.
type result struct {
	c   *Conn
	err error
}

// pair runs Initiate and Respond against each other over loopback TCP.
func pair(t testing.TB, provide Method, ia []byte, choose func(Method) (Method, error)) (ini, res result) {
	t.Helper()
	a, b := tcpPair(t)
	ctx := testCtx(t)
	done := make(chan result, 1)
	go func() {
		c, err := Respond(ctx, b, lookupOne(testInfoHash), choose)
		if err != nil {
			b.Close() // as a caller would: the initiator then sees the end
		}
		done <- result{c, err}
	}()
	c, err := Initiate(ctx, a, testInfoHash, provide, ia)
	if err != nil {
		a.Close()
	}
	return result{c, err}, <-done
}
