package mse

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// TestWriteBuffers: gathering writes produce the same stream as Write,
// consume the buffers and leave their bytes untouched.
func TestWriteBuffers(t *testing.T) {
	for _, provide := range []Method{RC4, Plaintext} {
		ini, res := pair(t, provide, nil, Prefer.Select)
		if ini.err != nil || res.err != nil {
			t.Fatal(ini.err, res.err)
		}
		var parts [][]byte
		var want []byte
		for i := range 40 {
			p := bytes.Repeat([]byte{byte(i)}, (i*7919)%20000)
			parts = append(parts, p)
			want = append(want, p...)
		}
		orig := bytes.Clone(want)
		got := make([]byte, len(want))
		done := make(chan error, 1)
		go func() {
			_, err := io.ReadFull(res.c, got)
			done <- err
		}()
		v := net.Buffers(append([][]byte(nil), parts...))
		n, err := ini.c.WriteBuffers(&v)
		if err != nil || n != int64(len(want)) || len(v) != 0 {
			t.Fatalf("%v: wrote %d of %d, %d buffers left: %v", provide, n, len(want), len(v), err)
		}
		if err := <-done; err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%v: received stream differs: %v", provide, err)
		}
		var all []byte
		for _, p := range parts {
			all = append(all, p...)
		}
		if !bytes.Equal(all, orig) {
			t.Fatal("WriteBuffers modified the buffers' bytes")
		}
		empty := net.Buffers{nil, {}, nil}
		if provide != RC4 {
			continue // net.Buffers.WriteTo's own business
		}
		if n, err := ini.c.WriteBuffers(&empty); n != 0 || err != nil || len(empty) != 0 {
			t.Fatalf("empty buffers: %d %v %d", n, err, len(empty))
		}
	}
}

// TestConcurrentWriters: writes from several goroutines keep the RC4
// stream in step (each Write arrives whole and decrypts).
func TestConcurrentWriters(t *testing.T) {
	ini, res := pair(t, RC4, nil, Prefer.Select)
	if ini.err != nil || res.err != nil {
		t.Fatal(ini.err, res.err)
	}
	const writers, msgs, size = 4, 50, 3000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range msgs {
				if _, err := ini.c.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	buf := make([]byte, size)
	counts := map[byte]int{}
	for range writers * msgs {
		if _, err := io.ReadFull(res.c, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, bytes.Repeat(buf[:1], size)) {
			t.Fatal("interleaved or garbled write")
		}
		counts[buf[0]]++
	}
	wg.Wait()
	if len(counts) != writers {
		t.Fatal(counts)
	}
}

// TestWriteErrorSticks: once a Write failed, the encrypting stream is out
// of step and every later Write fails with the same error.
func TestWriteErrorSticks(t *testing.T) {
	ini, res := pair(t, RC4, nil, Prefer.Select)
	if ini.err != nil || res.err != nil {
		t.Fatal(ini.err, res.err)
	}
	ini.c.SetWriteDeadline(time.Unix(1, 0))
	_, err := ini.c.Write(make([]byte, 100))
	if err == nil {
		t.Fatal("write past the deadline succeeded")
	}
	ini.c.SetWriteDeadline(time.Time{})
	if _, err2 := ini.c.Write([]byte("x")); !errors.Is(err2, err) {
		t.Fatalf("second write: %v, want %v", err2, err)
	}
	v := net.Buffers{[]byte("y")}
	if _, err2 := ini.c.WriteBuffers(&v); !errors.Is(err2, err) {
		t.Fatalf("WriteBuffers: %v", err2)
	}
}

// TestConnAccessors covers the net.Conn plumbing.
func TestConnAccessors(t *testing.T) {
	ini, res := pair(t, RC4, nil, Prefer.Select)
	if ini.err != nil || res.err != nil {
		t.Fatal(ini.err, res.err)
	}
	c := ini.c
	if c.LocalAddr() != c.NetConn().LocalAddr() || c.RemoteAddr() != c.NetConn().RemoteAddr() {
		t.Fatal("addresses")
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read past the deadline")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
