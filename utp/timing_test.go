package utp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// wire records packets crossing a memNet (type and virtual time).
type wire struct {
	mu    sync.Mutex
	start time.Time
	log   []wireEntry
	drop  func(from, to netip.AddrPort, h *header) bool
}

type wireEntry struct {
	at       time.Duration
	from, to netip.AddrPort
	h        header
	payload  int
	sack     bool
}

func (w *wire) install(n *memNet) {
	w.start = time.Now()
	n.filter = func(from, to netip.AddrPort, b []byte) bool {
		var p packet
		if parsePacket(b, &p) != nil {
			return true
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.log = append(w.log, wireEntry{at: time.Since(w.start), from: from, to: to, h: p.header, payload: len(p.payload), sack: p.sack != nil})
		return w.drop == nil || !w.drop(from, to, &p.header)
	}
}

func (w *wire) times(from netip.AddrPort, typ uint8) []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Duration
	for _, e := range w.log {
		if e.from == from && e.h.typ == typ {
			out = append(out, e.at)
		}
	}
	return out
}

func addrOf(s *Socket) netip.AddrPort { return s.pc.LocalAddr().(*net.UDPAddr).AddrPort() }

// A SYN nobody answers is sent at 0, 1, 3 and 7 s (timeouts doubling from
// 1 s), and the dial fails with ErrTimeout at 15 s.
func TestSynRetransmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		var w wire
		w.install(n)
		w.drop = func(netip.AddrPort, netip.AddrPort, *header) bool { return true }
		a, _ := New(n.listen(), Config{})
		b, _ := New(n.listen(), Config{})
		defer a.Close()
		defer b.Close()
		start := time.Now()
		_, err := a.DialContext(context.Background(), addrOf(b).String())
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, syscall.ETIMEDOUT) {
			t.Fatalf("dial: %v", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatal("ErrTimeout is not a net.Error timeout")
		}
		if el := time.Since(start); el != 15*time.Second {
			t.Fatalf("gave up after %v, want 15s", el)
		}
		got := w.times(addrOf(a), stSyn)
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
		if len(got) != len(want) {
			t.Fatalf("SYNs at %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("SYNs at %v, want %v", got, want)
			}
		}
	})
}

// DialContext gives up when its context ends.
func TestDialContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		n.loss = 1
		a, _ := New(n.listen(), Config{})
		defer a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
		defer cancel()
		if _, err := a.DialContext(ctx, "10.0.0.1:9"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dial: %v", err)
		}
		synctest.Wait()
		if len(a.conns) != 0 {
			t.Fatal("cancelled dial left its connection")
		}
	})
}

// With the network cut, data is retransmitted at the RTO doubling from
// the 500 ms floor (RTT 20 ms), and the connection fails with ErrTimeout
// after MaxRetransmits timeouts.
func TestRetransmissionBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		n.delay = 10 * time.Millisecond
		var w wire
		w.install(n)
		a, b, d, acc := memPair(t, n, Config{MaxRetransmits: 4})
		_ = b
		defer acc.Close()
		time.Sleep(time.Second)
		w.mu.Lock()
		cut := time.Since(w.start)
		w.drop = func(netip.AddrPort, netip.AddrPort, *header) bool { return true }
		w.mu.Unlock()
		if _, err := d.Write([]byte("lost")); err != nil {
			t.Fatal(err)
		}
		_, err := d.Read(make([]byte, 1))
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("read: %v", err)
		}
		var sends []time.Duration
		for _, at := range w.times(addrOf(a), stData) {
			if at >= cut {
				sends = append(sends, at-cut)
			}
		}
		want := []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond, 7500 * time.Millisecond}
		if len(sends) != len(want) {
			t.Fatalf("data sent at %v, want %v", sends, want)
		}
		for i := range want {
			if sends[i] != want[i] {
				t.Fatalf("data sent at %v, want %v", sends, want)
			}
		}
		if _, err := d.Write([]byte("x")); !errors.Is(err, ErrTimeout) {
			t.Fatalf("write after timeout: %v", err)
		}
		d.Close()
	})
}

// An idle connection sends a keep-alive ACK every 29 s, both ways.
func TestKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		var w wire
		w.install(n)
		a, b, d, acc := memPair(t, n, Config{})
		defer d.Close()
		defer acc.Close()
		time.Sleep(100 * time.Second)
		for _, s := range []*Socket{a, b} {
			st := w.times(addrOf(s), stState)
			var idle []time.Duration
			for _, at := range st {
				if at > time.Second {
					idle = append(idle, at)
				}
			}
			if len(idle) != 3 {
				t.Fatalf("%v sent keep-alives at %v, want 3 in 100 s", addrOf(s), idle)
			}
			for i := 1; i < len(idle); i++ {
				if idle[i]-idle[i-1] != 29*time.Second {
					t.Fatalf("keep-alives at %v, want 29 s apart", idle)
				}
			}
		}
	})
}

// A receiver that never reads: the sender's memory stays within its send
// buffer, the connection stays alive through zero-window probes for ten
// minutes, Write honours its deadline, and reading later completes the
// stream.
func TestZeroWindowForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		n.delay = 5 * time.Millisecond
		cfg := Config{RecvBuffer: 256 << 10, SendBuffer: 256 << 10}
		_, _, d, acc := memPair(t, n, cfg)
		defer acc.Close()
		dc := d.(*Conn)
		d.SetWriteDeadline(time.Now().Add(10 * time.Minute))
		total := 0
		chunk := make([]byte, 64<<10)
		var err error
		for err == nil {
			var k int
			k, err = d.Write(chunk)
			total += k
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write: %v", err)
		}
		dc.mu.Lock()
		held, state, peerWnd := dc.outBytes, dc.state, dc.peerWnd
		dc.mu.Unlock()
		if held > cfg.SendBuffer || state != csConnected || peerWnd >= dc.mss {
			t.Fatalf("after 10 min: %d bytes held, state %d, peer window %d", held, state, peerWnd)
		}
		if total > cfg.SendBuffer+cfg.RecvBuffer+(2<<20) {
			t.Fatalf("queued %d bytes against a zero window", total)
		}
		d.SetWriteDeadline(time.Time{})
		go func() {
			d.Close()
		}()
		got, err := io.Copy(io.Discard, acc)
		if err != nil || int(got) != total {
			t.Fatalf("read %d of %d: %v", got, total, err)
		}
	})
}

// Read and Write deadlines, Close and EOF follow the net.Conn contract.
func TestConnContract(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		_, _, d, acc := memPair(t, n, Config{})
		acc.SetReadDeadline(time.Now().Add(time.Second))
		start := time.Now()
		if _, err := acc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("read deadline: %v after %v", err, time.Since(start))
		}
		// A deadline in the past fails at once; clearing it lets Read wait again.
		acc.SetReadDeadline(time.Now().Add(-time.Second))
		if _, err := acc.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatal(err)
		}
		acc.SetReadDeadline(time.Time{})
		go func() {
			time.Sleep(time.Second)
			d.Write([]byte("late"))
			d.Close()
		}()
		buf, err := io.ReadAll(acc)
		if err != nil || string(buf) != "late" {
			t.Fatalf("read %q %v", buf, err)
		}
		if _, err := d.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write after close: %v", err)
		}
		if err := d.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second close: %v", err)
		}
		acc.Close()
		if _, err := acc.Read(buf); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after close: %v", err)
		}
		// Close wakes a blocked Read.
		_, _, d2, acc2 := memPair(t, n, Config{})
		defer d2.Close()
		go func() {
			time.Sleep(time.Second)
			acc2.Close()
		}()
		if _, err := acc2.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked read after close: %v", err)
		}
	})
}

// The peer's RESET fails Read and Write with ErrReset (ECONNRESET).
func TestReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		a, _, d, acc := memPair(t, n, Config{})
		defer acc.Close()
		a.Close() // resets its connections
		_, err := acc.Read(make([]byte, 1))
		if !errors.Is(err, ErrReset) || !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read: %v", err)
		}
		if _, err := d.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed socket: %v", err)
		}
	})
}

// The acceptor may speak first: a dialling Socket answers the SYN's reply
// at once, so Accept returns without the initiator writing anything.
func TestAcceptorSpeaksFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(1)
		n.delay = 10 * time.Millisecond
		a, _ := New(n.listen(), Config{})
		b, _ := New(n.listen(), Config{})
		defer a.Close()
		defer b.Close()
		go func() {
			c, err := b.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("banner"))
			c.Close()
		}()
		d, err := a.DialContext(context.Background(), addrOf(b).String())
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(d)
		if err != nil || string(got) != "banner" {
			t.Fatalf("read %q %v", got, err)
		}
		d.Close()
	})
}
