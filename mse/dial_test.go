package mse

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

var (
	ourHS   = peerwire.Handshake{InfoHash: testInfoHash, PeerID: [20]byte{'-', 'E', 'F'}}
	theirHS = peerwire.Handshake{InfoHash: testInfoHash, PeerID: [20]byte{'-', 'X', 'X'}}
)

// server is a peer on loopback: plainOnly answers only plain handshakes
// (and closes on anything else, as a client without MSE does); otherwise
// it runs Accept under policy.
type server struct {
	addr  netip.AddrPort
	conns atomic.Int32
	mse   atomic.Int32 // connections that negotiated MSE
}

func startServer(t *testing.T, plainOnly bool, policy Policy) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: l.Addr().(*net.TCPAddr).AddrPort()}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			s.serve(t, c, plainOnly, policy)
		}
	}()
	return s
}

func (s *server) serve(t *testing.T, raw net.Conn, plainOnly bool, policy Policy) {
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c net.Conn = raw
	if !plainOnly {
		mc, err := Accept(ctx, raw, policy, lookupOne(testInfoHash))
		if err != nil {
			return
		}
		if mc.Method() != None {
			s.mse.Add(1)
		}
		c = mc
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	h, err := peerwire.ReadHandshake(c)
	if err != nil || h.InfoHash != testInfoHash {
		return
	}
	if err := peerwire.WriteHandshake(c, theirHS); err != nil {
		return
	}
	io.Copy(io.Discard, c) // until the client closes
}

func TestDialer(t *testing.T) {
	cases := []struct {
		name      string
		dialer    Policy
		plainOnly bool
		server    Policy
		want      Method // None with wantErr false: plain
		wantErr   bool
		conns     int32
	}{
		{"prefer to plain-only falls back", Prefer, true, Prefer, None, false, 2},
		{"prefer to require", Prefer, false, Require, RC4, false, 1},
		{"prefer to prefer", Prefer, false, Prefer, Plaintext, false, 1},
		{"prefer to off falls back", Prefer, false, Off, None, false, 2},
		{"require to plain-only fails", Require, true, Prefer, None, true, 1},
		{"require to off fails", Require, false, Off, None, true, 1},
		{"off to require fails", Off, false, Require, None, true, 1},
		{"off to prefer", Off, false, Prefer, None, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.plainOnly, tc.server)
			var mem Memory
			d := &Dialer{Policy: tc.dialer, Memory: &mem}
			c, h, err := d.Dial(testCtx(t), s.addr, ourHS)
			if tc.wantErr {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded")
				}
				t.Log(err)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if h != theirHS || c.Method() != tc.want {
					t.Fatalf("handshake %v method %v, want %v", h.PeerID, c.Method(), tc.want)
				}
			}
			if n := s.conns.Load(); n != tc.conns {
				t.Fatalf("%d connections, want %d", n, tc.conns)
			}
			if remembered := mem.PlainOnly(s.addr); remembered != (tc.dialer == Prefer && tc.conns == 2) {
				t.Fatalf("memory says plain-only %v", remembered)
			}
		})
	}
}

// TestDialerRemembers: after a fallback, the next dial tries plain first
// (one connection); when the peer then requires encryption, plain fails,
// MSE works, and the memory forgets the address.
func TestDialerRemembers(t *testing.T) {
	plain := startServer(t, true, Prefer)
	var mem Memory
	d := &Dialer{Memory: &mem}
	for i, want := range []int32{2, 3} {
		c, _, err := d.Dial(testCtx(t), plain.addr, ourHS)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if n := plain.conns.Load(); n != want {
			t.Fatalf("dial %d: %d connections in all, want %d", i, n, want)
		}
	}
	// Same address, now a peer that requires encryption.
	req := startServer(t, false, Require)
	mem.SetPlainOnly(req.addr, true)
	c, _, err := d.Dial(testCtx(t), req.addr, ourHS)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c.Method() != RC4 || req.conns.Load() != 2 || mem.PlainOnly(req.addr) {
		t.Fatalf("method %v, %d connections, remembered %v", c.Method(), req.conns.Load(), mem.PlainOnly(req.addr))
	}
}

// TestDialerNoRetryWhenDown: a refused connection is not retried.
func TestDialerNoRetryWhenDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr).AddrPort()
	l.Close()
	var calls int
	d := &Dialer{Transport: func(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
		calls++
		return dialTCP(ctx, a)
	}}
	if _, _, err := d.Dial(testCtx(t), addr, ourHS); err == nil || calls != 1 {
		t.Fatalf("error %v after %d dials", err, calls)
	}
}

// TestDialerHalfTime: a peer that swallows our key in silence costs the
// first attempt half the time left, exactly; plain then works.
func TestDialerHalfTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		attempt := 0
		d := &Dialer{Transport: func(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
			attempt++
			ours, theirs := net.Pipe()
			if attempt == 1 {
				go func() { io.Copy(io.Discard, theirs); theirs.Close() }()
			} else {
				go func() {
					defer theirs.Close()
					if _, err := peerwire.ReadHandshake(theirs); err != nil {
						return
					}
					peerwire.WriteHandshake(theirs, theirHS)
					io.Copy(io.Discard, theirs)
				}()
			}
			return ours, nil
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		c, _, err := d.Dial(ctx, netip.MustParseAddrPort("192.0.2.1:6881"), ourHS)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if el := time.Since(start); el != 10*time.Second || c.Method() != None || attempt != 2 {
			t.Fatalf("after %v: method %v, %d attempts", el, c.Method(), attempt)
		}
	})
}

// TestDialerBadPolicy: an invalid policy is an error, not a panic.
func TestDialerBadPolicy(t *testing.T) {
	d := &Dialer{Policy: 7}
	if _, _, err := d.Dial(context.Background(), netip.MustParseAddrPort("127.0.0.1:1"), ourHS); err == nil {
		t.Fatal("no error")
	}
}

// TestMemoryBound: the memory keeps at most Size addresses, forgetting
// the least recently used.
func TestMemoryBound(t *testing.T) {
	m := &Memory{Size: 3}
	ap := func(i int) netip.AddrPort { return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1) }
	for i := range 3 {
		m.SetPlainOnly(ap(i), true)
	}
	m.PlainOnly(ap(0)) // used: 1 is now the oldest
	m.SetPlainOnly(ap(3), true)
	if m.Len() != 3 || m.PlainOnly(ap(1)) || !m.PlainOnly(ap(0)) || !m.PlainOnly(ap(3)) {
		t.Fatalf("len %d", m.Len())
	}
	m.SetPlainOnly(ap(0), false)
	if m.PlainOnly(ap(0)) || m.Len() != 2 {
		t.Fatal("not forgotten")
	}
	var nilMem *Memory
	nilMem.SetPlainOnly(ap(0), true)
	if nilMem.PlainOnly(ap(0)) || nilMem.Len() != 0 {
		t.Fatal("nil memory remembered")
	}
	var zero Memory
	for i := range DefaultMemorySize + 10 {
		zero.SetPlainOnly(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1), true)
	}
	if zero.Len() != DefaultMemorySize {
		t.Fatalf("zero Memory holds %d", zero.Len())
	}
}

func TestAccept(t *testing.T) {
	for _, policy := range []Policy{Prefer, Require, Off} {
		for _, plain := range []bool{true, false} {
			t.Run(policy.String()+map[bool]string{true: "/plain", false: "/mse"}[plain], func(t *testing.T) {
				a, b := tcpPair(t)
				ctx := testCtx(t)
				go func() {
					if plain {
						peerwire.WriteHandshake(a, ourHS)
					} else {
						c, err := Initiate(ctx, a, testInfoHash, RC4|Plaintext, peerwire.AppendHandshake(nil, ourHS))
						if err != nil {
							a.Close()
							return
						}
						_ = c
					}
				}()
				c, err := Accept(testCtx(t), b, policy, lookupOne(testInfoHash))
				refuse := (plain && policy == Require) || (!plain && policy == Off)
				if refuse {
					want := ErrPlainRefused
					if !plain {
						want = ErrEncryptionOff
					}
					if !errors.Is(err, want) {
						t.Fatalf("error %v, want %v", err, want)
					}
					a.Close()
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				h, err := peerwire.ReadHandshake(c)
				if err != nil || h != ourHS {
					t.Fatalf("handshake %v: %v", h, err)
				}
				wantMethod := None
				switch {
				case !plain && policy == Require:
					wantMethod = RC4
				case !plain:
					wantMethod = Plaintext // Prefer: plain stream when offered
				}
				if c.Method() != wantMethod {
					t.Fatalf("method %v", c.Method())
				}
				if bare, ok := c.Plain(); plain && (!ok || bare != b) {
					t.Fatal("a drained plain connection is not handed over bare")
				}
			})
		}
	}
}

func TestIsPlainHandshake(t *testing.T) {
	hs := peerwire.AppendHandshake(nil, ourHS)
	for n := 0; n <= len(hs); n++ {
		if !IsPlainHandshake(hs[:n]) {
			t.Fatalf("prefix %d of a handshake refused", n)
		}
	}
	bad := append([]byte(nil), hs[:PeekLen]...)
	bad[PeekLen-1] ^= 1
	if IsPlainHandshake(bad) || IsPlainHandshake([]byte{18}) || IsPlainHandshake([]byte{19, 'b'}) {
		t.Fatal("accepted a non-handshake")
	}
}
