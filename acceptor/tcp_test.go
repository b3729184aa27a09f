package acceptor_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
)

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// acceptor_pool's accept, close_socket and which_interface over real
// loopback sockets, under goleak (TestMain).
func TestTCP_AcceptAndCloseListener(t *testing.T) {
	p, err := acceptor.Start(context.Background(), acceptor.Spec{ID: "tcp", New: acceptor.Func(echoLines)})
	if err != nil {
		t.Fatal(err)
	}
	ln := listenLoopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.AddListener(ctx, ln, 3); err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for i := range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
		fmt.Fprintf(c, "msg %d\n", i)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || line != fmt.Sprintf("msg %d\n", i) {
			t.Fatalf("echo %q %v", line, err)
		}
	}
	kids, err := p.Children(ctx)
	if err != nil || len(kids) != 3 {
		t.Fatalf("children %v %v", kids, err)
	}
	peers := map[string]bool{}
	for _, c := range conns {
		peers[c.LocalAddr().String()] = true
	}
	for i, k := range kids {
		if k.ID != "tcp" || k.Local.String() != ln.Addr().String() || !peers[k.Peer.String()] {
			t.Fatalf("child %d = %+v", i, k)
		}
		delete(peers, k.Peer.String())
	}
	ln.Close()
	if err := p.WaitForConns(ctx, 3); err != nil {
		t.Fatal(err)
	}
	for {
		lns, _ := p.Listeners(ctx)
		if len(lns) == 0 {
			break
		}
		time.Sleep(time.Millisecond) // the acceptors see the close asynchronously
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("dial after the listener closed succeeded")
	}
	fmt.Fprintf(conns[0], "still here\n")
	if line, err := bufio.NewReader(conns[0]).ReadString('\n'); err != nil || line != "still here\n" {
		t.Fatalf("echo after close %q %v", line, err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// raiseNoFile lifts the soft RLIMIT_NOFILE toward need and returns how
// many descriptors may be used.
func raiseNoFile(need uint64) uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur < need {
		lim.Cur = min(need, lim.Max)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return lim.Cur
}

// ledgerEcho echoes 8-byte messages (client id, sequence number) and
// records each in processed before acknowledging it. On draining it
// finishes a message it has started reading and returns.
func ledgerEcho(processed []atomic.Int32) func(ctx context.Context, c net.Conn) error {
	return func(ctx context.Context, c net.Conn) error {
		stop := context.AfterFunc(acceptor.DrainingContext(ctx), func() { c.SetReadDeadline(time.Now()) })
		defer stop()
		var msg [8]byte
		for {
			n, err := io.ReadFull(c, msg[:])
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if n == 0 {
					return nil // drained between messages
				}
				c.SetReadDeadline(time.Now().Add(time.Second))
				_, err = io.ReadFull(c, msg[n:])
			}
			if err != nil {
				return err
			}
			id := binary.BigEndian.Uint32(msg[:4])
			processed[id].Add(1)
			if _, err := c.Write(msg[:]); err != nil {
				return err
			}
		}
	}
}

// The bounded load test: 2,000 concurrent loopback clients each echo 100
// messages; then, with traffic still flowing, a graceful Shutdown loses
// no acknowledged message (per client, the server processed exactly what
// the client saw acknowledged), every goroutine returns and nothing
// leaks (goleak).
func TestTCP_LoadAndGracefulShutdown(t *testing.T) {
	clients, msgs := 2000, 100
	if testing.Short() {
		clients = 200
	}
	if have := raiseNoFile(uint64(2*clients + 256)); have < uint64(2*clients+256) {
		clients = int(have-256) / 2
		t.Logf("RLIMIT_NOFILE is %d: scaled down to %d clients", have, clients)
	}
	processed := make([]atomic.Int32, clients)
	acked := make([]atomic.Int32, clients)
	p, err := acceptor.Start(context.Background(), acceptor.Spec{ID: "load",
		New: acceptor.Func(ledgerEcho(processed)), Grace: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln := listenLoopback(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := p.AddListener(ctx, ln, 16); err != nil {
		t.Fatal(err)
	}

	var phase1, all sync.WaitGroup
	var total atomic.Int64
	dials := make(chan struct{}, 128) // bounds concurrent handshakes, not clients
	errs := make(chan error, clients)
	for id := range clients {
		phase1.Add(1)
		all.Add(1)
		go func() {
			defer all.Done()
			dials <- struct{}{}
			c, err := net.Dial("tcp", ln.Addr().String())
			<-dials
			if err != nil {
				errs <- err
				phase1.Done()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(90 * time.Second)) // bounded
			var out, in [8]byte
			binary.BigEndian.PutUint32(out[:4], uint32(id))
			for seq := 0; ; seq++ {
				binary.BigEndian.PutUint32(out[4:], uint32(seq))
				_, err := c.Write(out[:])
				if err == nil {
					_, err = io.ReadFull(c, in[:])
				}
				if err != nil || in != out {
					if seq < msgs {
						errs <- fmt.Errorf("client %d: message %d: %v (got %x)", id, seq, err, in)
						phase1.Done()
					}
					return
				}
				acked[id].Add(1)
				total.Add(1)
				if seq+1 == msgs {
					phase1.Done()
				}
			}
		}()
	}
	phase1.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Traffic goes on; shut down in the middle of it.
	for mark := total.Load(); total.Load() < mark+int64(clients) && ctx.Err() == nil; {
		time.Sleep(time.Millisecond) // waiting for more traffic, bounded by ctx
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	all.Wait()
	lost := 0
	for id := range clients {
		if a, s := acked[id].Load(), processed[id].Load(); a != s || a < int32(msgs) {
			lost++
			if lost < 5 {
				t.Errorf("client %d: %d acknowledged, %d processed", id, a, s)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d clients disagree with the server", lost)
	}
	t.Logf("%d clients, %d messages acknowledged", clients, total.Load())
}

// Suspend and AcceptTimeout on a real *net.TCPListener, whose Accept is
// interrupted through SetDeadline.
func TestTCP_SuspendAndAcceptTimeout(t *testing.T) {
	var timeouts atomic.Int32
	p, err := acceptor.Start(context.Background(), acceptor.Spec{New: func() acceptor.Acceptor {
		return &acc{
			init: func(context.Context, acceptor.ListenerInfo) (acceptor.Options, error) {
				return acceptor.Options{AcceptTimeout: 20 * time.Millisecond}, nil
			},
			cont: echoLines,
			term: func(r error) {
				if errors.Is(r, acceptor.ErrAcceptTimeout) {
					timeouts.Add(1)
				}
			},
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln := listenLoopback(t)
	if _, err := p.AddListener(ctx, ln, 2); err != nil {
		t.Fatal(err)
	}
	for timeouts.Load() < 4 {
		if ctx.Err() != nil {
			t.Fatalf("only %d accept timeouts", timeouts.Load())
		}
		time.Sleep(5 * time.Millisecond) // waiting for the timeouts to happen, bounded by ctx
	}
	if err := p.Suspend(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", ln.Addr().String()) // completes in the kernel backlog
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond) // several accept timeouts pass while suspended
	if n, _ := p.Count(ctx); n.Active != 0 {
		t.Fatalf("accepted while suspended: %+v", n)
	}
	if err := p.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "resumed\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "resumed\n" {
		t.Fatalf("echo %q %v", line, err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
