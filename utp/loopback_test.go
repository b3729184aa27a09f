package utp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// pair returns two Sockets on loopback and a connection between them
// (dialled from a to b), closing everything at cleanup.
func socketPair(t testing.TB, cfg Config) (a, b *Socket) {
	t.Helper()
	var err error
	a, err = Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err = Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func connPair(t testing.TB, a, b *Socket) (dialled, accepted net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := b.AcceptContext(ctx)
		ch <- res{c, err}
	}()
	d, err := a.DialContext(ctx, b.Addr().String())
	if err != nil {
		t.Fatal("dial:", err)
	}
	// A first message, read below, checks the stream.
	if _, err := d.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal("accept:", r.err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(r.c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("first read %q %v", buf, err)
	}
	return d, r.c
}

func TestLoopbackEcho(t *testing.T) {
	a, b := socketPair(t, Config{})
	d, acc := connPair(t, a, b)
	defer d.Close()
	defer acc.Close()
	go io.Copy(acc, acc)
	msg := []byte("ping over utp")
	for i := 0; i < 10; i++ {
		if _, err := d.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(d, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %q %v", got, err)
		}
	}
}

func transfer(t testing.TB, d, acc net.Conn, size int) {
	t.Helper()
	src := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	want := sha256.New()
	done := make(chan error, 1)
	go func() {
		n := 0
		for n < size {
			k := min(len(src), size-n)
			if _, err := d.Write(src[:k]); err != nil {
				done <- err
				return
			}
			want.Write(src[:k])
			n += k
		}
		done <- d.Close()
	}()
	got := sha256.New()
	n, err := io.Copy(got, acc)
	if err != nil {
		t.Fatal("read:", err)
	}
	if err := <-done; err != nil {
		t.Fatal("write:", err)
	}
	if int(n) != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("received %d bytes, want %d; digests equal %v", n, size, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
}

func TestLoopbackTransfer(t *testing.T) {
	a, b := socketPair(t, Config{})
	d, acc := connPair(t, a, b)
	defer acc.Close()
	transfer(t, d, acc, 64<<20)
	t.Logf("sender %+v", d.(*Conn).Stats())
}

func TestLoopbackTransferSmallPackets(t *testing.T) {
	a, b := socketPair(t, Config{MaxPacketSize: 1400})
	d, acc := connPair(t, a, b)
	defer acc.Close()
	transfer(t, d, acc, 16<<20)
	t.Logf("sender %+v", d.(*Conn).Stats())
}

// IPv6 loopback, and a dual-stack Socket (":0" on "udp") that an IPv4
// Socket dials (its peers' addresses arrive v4-mapped and are unmapped).
func TestLoopbackIPv6AndDualStack(t *testing.T) {
	v6a, err := Listen("udp6", "[::1]:0", Config{})
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer v6a.Close()
	v6b, err := Listen("udp6", "[::1]:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer v6b.Close()
	d, acc := connPair(t, v6a, v6b)
	transfer(t, d, acc, 4<<20)
	acc.Close()

	dual, err := Listen("udp", ":0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()
	v4, err := Listen("udp4", "127.0.0.1:0", Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer v4.Close()
	port := dual.Addr().(*net.UDPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		c, err := v4.DialContext(ctx, net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
		if err != nil {
			return
		}
		c.Write([]byte("hi"))
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := dual.AcceptContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("dual-stack read %q %v", buf, err)
	}
	if ip := c.RemoteAddr().(*net.UDPAddr).IP; ip.To4() == nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("remote %v", c.RemoteAddr())
	}
	c.Close()
}
