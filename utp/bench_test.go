package utp

import (
	"io"
	"net"
	"testing"
)

// benchTransfer streams b.N chunks of 1 MiB from one end to the other.
func benchTransfer(b *testing.B, d, acc net.Conn) {
	chunk := make([]byte, 1<<20)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := d.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- d.Close()
	}()
	n, err := io.Copy(io.Discard, acc)
	if err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if n != int64(b.N)*int64(len(chunk)) {
		b.Fatalf("got %d bytes", n)
	}
	b.StopTimer()
	acc.Close()
}

// BenchmarkLoopback compares a uTP pair with a TCP pair on loopback for the
// same stream (report the ratio of their MB/s).
func BenchmarkLoopback(b *testing.B) {
	b.Run("utp", func(b *testing.B) {
		x, y := socketPair(b, Config{})
		d, acc := connPair(b, x, y)
		benchTransfer(b, d, acc)
	})
	b.Run("utp-1400", func(b *testing.B) {
		x, y := socketPair(b, Config{MaxPacketSize: 1400})
		d, acc := connPair(b, x, y)
		benchTransfer(b, d, acc)
	})
	b.Run("tcp", func(b *testing.B) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		ch := make(chan net.Conn, 1)
		go func() {
			c, _ := l.Accept()
			ch <- c
		}()
		d, err := net.Dial("tcp4", l.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		acc := <-ch
		benchTransfer(b, d, acc)
	})
}
