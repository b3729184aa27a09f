package acceptor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
)

// echoLines is acceptor_pool's telnet_echo connection: it echoes lines
// and, when the pool starts draining, finishes the line at hand and
// returns.
func echoLines(ctx context.Context, c net.Conn) error {
	// Interrupt a blocked Read when draining starts (the analogue of
	// telnet_echo's monitor on the listen socket).
	stop := context.AfterFunc(acceptor.DrainingContext(ctx), func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := c.Write(line); werr != nil {
				return werr
			}
		}
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil // drained
		case err != nil:
			return err // io.EOF: the client left (a quiet reason)
		}
	}
}

// The echo server of acceptor_pool's telnet_echo example, with a
// graceful drain.
func Example_echoServer() {
	pool, err := acceptor.Start(context.Background(), acceptor.Spec{
		ID:    "echo",
		New:   acceptor.Func(echoLines),
		Grace: 5 * time.Second, // time for connections to finish on their own
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	if _, err := pool.AddListener(context.Background(), ln, 4); err != nil {
		panic(err)
	}

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "hello\n")
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	fmt.Print("echo: ", line)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("shutdown:", pool.Shutdown(ctx))
	_, err = r.ReadString('\n')
	fmt.Println("client sees:", err)
	fmt.Println("pool:", pool.Err())
	// Output:
	// echo: hello
	// shutdown: <nil>
	// client sees: EOF
	// pool: acceptor: pool closed
}
