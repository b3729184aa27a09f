package connection_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/effusion-bt/effusion/connection"
)

// tcpConn is Connection's TCPConnection example: a client socket that
// connects right after Start, backs off and retries forever when the
// dial fails, answers requests with an error while disconnected, and
// reconnects at once after any disconnect (even an explicit Close).
type tcpConn struct {
	connection.Defaults[*tcpState]
	addr   string
	policy func() connection.Policy
}

type tcpState struct {
	sock   net.Conn
	policy connection.Policy
}

// Requests.
type (
	sendReq struct{ data []byte }
	recvReq struct {
		n       int
		timeout time.Duration
	}
	closeReq struct{}
	// closeInfo defers Close's reply to Disconnect.
	closeInfo struct{ from connection.From }
)

var errClosed = errors.New("tcp: closed")

func (h tcpConn) Init(context.Context) (connection.Result[*tcpState], error) {
	return connection.Connect("init", &tcpState{policy: h.policy()}), nil
}

func (h tcpConn) Connect(ctx context.Context, _ any, s *tcpState) connection.Result[*tcpState] {
	d := net.Dialer{Timeout: 5 * time.Second}
	sock, err := d.DialContext(ctx, "tcp", h.addr) // ctx: Stop never waits for a dial
	if err != nil {
		return connection.Backoff(s.policy.NextBackOff(), s)
	}
	s.policy.Reset()
	s.sock = sock
	return connection.Ok(s)
}

func (h tcpConn) Disconnect(_ context.Context, info any, s *tcpState) connection.Result[*tcpState] {
	s.sock.Close()
	s.sock = nil
	if c, ok := info.(closeInfo); ok {
		c.from.Reply(nil)
	}
	return connection.Connect("reconnect", s)
}

func (h tcpConn) HandleCall(_ context.Context, req any, from connection.From, s *tcpState) connection.Result[*tcpState] {
	if s.sock == nil {
		return connection.ReplyError(errClosed, s) // served while disconnected
	}
	switch r := req.(type) {
	case sendReq:
		if _, err := s.sock.Write(r.data); err != nil {
			return connection.Disconnect(err, s).WithReplyError(err)
		}
		return connection.Reply(nil, s)
	case recvReq:
		s.sock.SetReadDeadline(time.Now().Add(r.timeout))
		buf := make([]byte, r.n)
		_, err := io.ReadFull(s.sock, buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return connection.ReplyError(err, s) // stay connected
		case err != nil:
			return connection.Disconnect(err, s).WithReplyError(err)
		}
		return connection.Reply(buf, s)
	case closeReq:
		return connection.Disconnect(closeInfo{from}, s)
	}
	return connection.ReplyError(fmt.Errorf("tcp: bad request %T", req), s)
}

func (h tcpConn) Terminate(_ error, s *tcpState) {
	if s.sock != nil {
		s.sock.Close()
	}
}

type tcpClient = connection.Conn[*tcpState]

func dialTCP(addr string, policy func() connection.Policy) (*tcpClient, error) {
	return connection.Start[*tcpState](context.Background(), tcpConn{addr: addr, policy: policy})
}

func send(ctx context.Context, c *tcpClient, data string) error {
	_, err := c.Call(ctx, sendReq{[]byte(data)})
	return err
}

func recv(ctx context.Context, c *tcpClient, n int, timeout time.Duration) (string, error) {
	v, err := c.Call(ctx, recvReq{n, timeout})
	if err != nil {
		return "", err
	}
	return string(v.([]byte)), nil
}

func closeConn(ctx context.Context, c *tcpClient) error {
	_, err := c.Call(ctx, closeReq{})
	return err
}

// The TCPConnection example end to end (its own test, as a runnable
// example): receive, send, close, and the automatic reconnect.
func Example_tcpConnection() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := dialTCP(ln.Addr().String(), connection.DefaultPolicy)
	if err != nil {
		panic(err)
	}
	defer c.Stop(ctx, nil)

	peer, _ := ln.Accept()
	peer.Write([]byte("hello"))
	got, err := recv(ctx, c, 5, time.Second)
	fmt.Println("recv:", got, err)

	_, err = recv(ctx, c, 5, 10*time.Millisecond)
	fmt.Println("recv with nothing sent:", errors.Is(err, os.ErrDeadlineExceeded))

	fmt.Println("send:", send(ctx, c, "hi"))
	buf := make([]byte, 2)
	io.ReadFull(peer, buf)
	fmt.Println("peer got:", string(buf))

	fmt.Println("close:", closeConn(ctx, c))
	_, err = peer.Read(buf)
	fmt.Println("peer sees:", err)
	peer.Close()

	peer, _ = ln.Accept() // the client reconnected by itself
	defer peer.Close()
	fmt.Println("send after reconnect:", send(ctx, c, "back!"))
	buf = make([]byte, 5)
	io.ReadFull(peer, buf)
	fmt.Println("peer got:", string(buf))
	// Output:
	// recv: hello <nil>
	// recv with nothing sent: true
	// send: <nil>
	// peer got: hi
	// close: <nil>
	// peer sees: EOF
	// send after reconnect: <nil>
	// peer got: back!
}
