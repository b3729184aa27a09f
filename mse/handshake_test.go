package mse

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestHandshake negotiates every combination of what the initiator
// provides and what the responder's policy accepts, then moves data both
// ways at once.
func TestHandshake(t *testing.T) {
	hs := make([]byte, 68)
	for i := range hs {
		hs[i] = byte(i)
	}
	big := make([]byte, MaxInitialPayload)
	for i := range big {
		big[i] = byte(i * 7)
	}
	cases := []struct {
		provide Method
		policy  Policy
		ia      []byte
		want    Method // None: the handshake fails
	}{
		{RC4 | Plaintext, Prefer, hs, Plaintext},
		{RC4, Prefer, nil, RC4},
		{Plaintext, Prefer, hs, Plaintext},
		{RC4 | Plaintext, Require, big, RC4},
		{Plaintext, Require, hs, None},
		{RC4, Require, nil, RC4},
		{RC4, Off, hs, None},
	}
	for _, tc := range cases {
		t.Run(tc.provide.String()+"/"+tc.policy.String(), func(t *testing.T) {
			ini, res := pair(t, tc.provide, tc.ia, tc.policy.Select)
			if tc.want == None {
				if res.err == nil || ini.err == nil {
					t.Fatalf("want failure, got %v / %v", ini.err, res.err)
				}
				want := ErrNoCommonMethod
				if tc.policy == Off {
					want = ErrEncryptionOff
				}
				if !errors.Is(res.err, want) {
					t.Fatalf("responder: %v, want %v", res.err, want)
				}
				return
			}
			if ini.err != nil || res.err != nil {
				t.Fatalf("initiator %v, responder %v", ini.err, res.err)
			}
			for _, c := range []*Conn{ini.c, res.c} {
				if c.Method() != tc.want || c.Encrypted() != (tc.want == RC4) || c.InfoHash() != testInfoHash {
					t.Fatalf("method %v encrypted %v ih %x, want %v", c.Method(), c.Encrypted(), c.InfoHash(), tc.want)
				}
			}
			if res.c.Buffered() != len(tc.ia) {
				t.Fatalf("responder has %d bytes buffered, want the %d of IA", res.c.Buffered(), len(tc.ia))
			}
			got := make([]byte, len(tc.ia))
			if _, err := io.ReadFull(res.c, got); err != nil || !bytes.Equal(got, tc.ia) {
				t.Fatalf("initial payload: %v", err)
			}
			exchange(t, ini.c, res.c, 3<<20)
		})
	}
}

// exchange sends n random bytes each way at once and checks them.
func exchange(t *testing.T, a, b *Conn, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(n), 9))
	ab, ba := make([]byte, n), make([]byte, n)
	for i := range ab {
		ab[i], ba[i] = byte(rng.Uint32()), byte(rng.Uint32())
	}
	abCopy, baCopy := bytes.Clone(ab), bytes.Clone(ba)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	send := func(c *Conn, p []byte) {
		defer wg.Done()
		for len(p) > 0 {
			k := min(len(p), 1+rng2(len(p)))
			if _, err := c.Write(p[:k]); err != nil {
				errs <- err
				return
			}
			p = p[k:]
		}
	}
	recv := func(c *Conn, want []byte) {
		defer wg.Done()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(c, got); err != nil {
			errs <- err
			return
		}
		if !bytes.Equal(got, want) {
			errs <- errors.New("received bytes differ")
		}
	}
	wg.Add(4)
	go send(a, ab)
	go send(b, ba)
	go recv(b, abCopy)
	go recv(a, baCopy)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if !bytes.Equal(ab, abCopy) || !bytes.Equal(ba, baCopy) {
		t.Fatal("Write modified the caller's buffer")
	}
}

var rng2mu sync.Mutex
var rng2src = rand.New(rand.NewPCG(5, 6))

func rng2(n int) int {
	rng2mu.Lock()
	defer rng2mu.Unlock()
	return rng2src.IntN(min(n, 100_000))
}

// TestPlaintextIsBare: with the Plaintext method nothing past the
// handshake is read, so once the initial payload is consumed both sides
// can use the bare connection (sendfile, writev).
func TestPlaintextIsBare(t *testing.T) {
	ini, res := pair(t, Plaintext, []byte("hello"), Prefer.Select)
	if ini.err != nil || res.err != nil {
		t.Fatal(ini.err, res.err)
	}
	if _, ok := res.c.Plain(); ok {
		t.Fatal("responder's Plain before its IA was read")
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(res.c, buf); err != nil || string(buf) != "hello" {
		t.Fatal(err, buf)
	}
	a, ok1 := ini.c.Plain()
	b, ok2 := res.c.Plain()
	if !ok1 || !ok2 || a != ini.c.NetConn() || b != res.c.NetConn() {
		t.Fatal("Plain refused a drained plaintext connection")
	}
	if _, err := a.Write([]byte("bare")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(b, buf[:4]); err != nil || string(buf[:4]) != "bare" {
		t.Fatal(err, buf)
	}
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(a, buf[:4]); err != nil || string(buf[:4]) != "back" {
		t.Fatal(err, buf)
	}
}

// TestRC4NotBare: an encrypted Conn never hands out its bare connection.
func TestRC4NotBare(t *testing.T) {
	ini, res := pair(t, RC4, nil, Prefer.Select)
	if ini.err != nil || res.err != nil {
		t.Fatal(ini.err, res.err)
	}
	if _, ok := ini.c.Plain(); ok {
		t.Fatal("Plain on RC4")
	}
}
