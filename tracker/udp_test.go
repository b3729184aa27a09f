package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeUDP is an in-memory connected UDP socket for synctest bubbles. Each
// Write is handed to the tracker script, whose replies are queued for Read.
type fakeUDP struct {
	remote *net.UDPAddr
	script func(pkt []byte) [][]byte

	mu       sync.Mutex
	queue    [][]byte
	deadline time.Time
	closed   bool
	wake     chan struct{} // buffered(1): queue, deadline or close changed
	writes   []time.Time
}

func newFakeUDP(remote string, script func([]byte) [][]byte) *fakeUDP {
	return &fakeUDP{remote: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(remote)), script: script, wake: make(chan struct{}, 1)}
}

func (f *fakeUDP) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fakeUDP) Write(p []byte) (int, error) {
	f.mu.Lock()
	f.writes = append(f.writes, time.Now())
	f.mu.Unlock()
	replies := f.script(slices.Clone(p))
	f.mu.Lock()
	f.queue = append(f.queue, replies...)
	f.mu.Unlock()
	f.signal()
	return len(p), nil
}

func (f *fakeUDP) Read(p []byte) (int, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return 0, net.ErrClosed
		}
		if len(f.queue) > 0 {
			n := copy(p, f.queue[0])
			f.queue = f.queue[1:]
			f.mu.Unlock()
			return n, nil
		}
		dl := f.deadline
		f.mu.Unlock()
		var timer <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-f.wake:
		case <-timer:
		}
	}
}

func (f *fakeUDP) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	f.deadline = t
	f.mu.Unlock()
	f.signal()
	return nil
}

func (f *fakeUDP) RemoteAddr() net.Addr { return f.remote }

func (f *fakeUDP) Close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.signal()
	return nil
}

// fakeTracker answers BEP 15 requests; drop decides per packet (by sequence
// number) whether the tracker ignores it.
type fakeTracker struct {
	mu       sync.Mutex
	n        int
	connects int
	drop     func(n int) bool
	mangle   func(resp []byte) [][]byte // optional: rewrite a response
	peers    []netip.AddrPort
	ipv6     bool
	fail     string
}

func (ft *fakeTracker) handle(pkt []byte) [][]byte {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.n++
	if ft.drop != nil && ft.drop(ft.n) {
		return nil
	}
	h, err := ParseUDPRequestHeader(pkt)
	if err != nil {
		return nil
	}
	var resp []byte
	switch {
	case h.Action == ActionConnect:
		ft.connects++
		resp = AppendUDPConnectResponse(nil, h.TransactionID, 0xc0ffee+uint64(ft.connects))
	case h.ConnectionID != 0xc0ffee+uint64(ft.connects):
		resp = AppendUDPError(nil, h.TransactionID, "bad connection id")
	case ft.fail != "":
		resp = AppendUDPError(nil, h.TransactionID, ft.fail)
	case h.Action == ActionAnnounce:
		resp = AppendUDPAnnounceResponse(nil, h.TransactionID, 1800, 2, 3, ft.peers, ft.ipv6)
	case h.Action == ActionScrape:
		hs, _ := ParseUDPScrapeRequest(pkt)
		st := make([]ScrapeStats, len(hs))
		for i := range st {
			st[i] = ScrapeStats{Complete: i + 1, Downloaded: 10, Incomplete: 20}
		}
		resp = AppendUDPScrapeResponse(nil, h.TransactionID, st)
	}
	if ft.mangle != nil {
		return ft.mangle(resp)
	}
	return [][]byte{resp}
}

func udpClient(conns *[]*fakeUDP, remote string, ft *fakeTracker, opts Options) *Client {
	var mu sync.Mutex
	opts.DialUDP = func(ctx context.Context, network, address string) (UDPConn, error) {
		f := newFakeUDP(remote, ft.handle)
		mu.Lock()
		*conns = append(*conns, f)
		mu.Unlock()
		return f, nil
	}
	if opts.Timeout == 0 {
		opts.Timeout = -1
	}
	return NewClient(opts)
}

// TestUDPRetransmitSchedule: with every packet lost, the client sends at
// 0, 15, 45, 105, ... seconds (15 × 2^n waits, n = 0..8) and then gives up.
func TestUDPRetransmitSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTracker{drop: func(int) bool { return true }}
		var conns []*fakeUDP
		c := udpClient(&conns, "10.0.0.1:6969", ft, Options{})
		start := time.Now()
		_, err := c.Announce(context.Background(), "udp://tracker.example:6969/announce", AnnounceRequest{Port: 1})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v", err)
		}
		var got []time.Duration
		for _, w := range conns[0].writes {
			got = append(got, w.Sub(start))
		}
		var want []time.Duration
		at := time.Duration(0)
		for n := 0; n <= 8; n++ {
			want = append(want, at)
			at += 15 * time.Second << n
		}
		if !slices.Equal(got, want) {
			t.Fatalf("send times\n got %v\nwant %v", got, want)
		}
		if total := time.Since(start); total != at {
			t.Fatalf("gave up after %v, want %v", total, at)
		}
	})
}

// TestUDPLossThenSuccess: a lost connect and a lost announce are retransmitted
// with growing timeouts, and the announce still succeeds.
func TestUDPLossThenSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		peers := []netip.AddrPort{netip.MustParseAddrPort("10.1.1.1:1"), netip.MustParseAddrPort("10.1.1.2:2")}
		ft := &fakeTracker{drop: func(n int) bool { return n == 1 || n == 3 }, peers: peers}
		var conns []*fakeUDP
		c := udpClient(&conns, "10.0.0.1:6969", ft, Options{MinInterval: -1})
		start := time.Now()
		r, err := c.Announce(context.Background(), "udp://tracker.example:6969", AnnounceRequest{Port: 1})
		if err != nil {
			t.Fatal(err)
		}
		// connect lost (wait 15 s), connect ok, announce lost (wait 30 s), announce ok.
		if d := time.Since(start); d != 45*time.Second {
			t.Fatalf("took %v", d)
		}
		if !slices.Equal(r.Peers, peers) || r.Interval != 1800*time.Second || r.Complete != 3 || r.Incomplete != 2 {
			t.Fatalf("%+v", r)
		}
	})
}

// TestUDPConnectionIDLifetime: the connection id is reused within a minute
// and renewed after it.
func TestUDPConnectionIDLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTracker{}
		var conns []*fakeUDP
		c := udpClient(&conns, "10.0.0.1:6969", ft, Options{})
		ctx := context.Background()
		u := "udp://tracker.example:6969/announce"
		for _, wait := range []time.Duration{0, 59 * time.Second, 2 * time.Second} {
			time.Sleep(wait)
			if _, err := c.Announce(ctx, u, AnnounceRequest{Port: 1}); err != nil {
				t.Fatal(err)
			}
		}
		// 0 s: connect; 59 s: reuse; 61 s: the id is older than a minute, connect again.
		if ft.connects != 2 {
			t.Fatalf("connects %d, want 2", ft.connects)
		}
	})
}

// TestUDPWrongTransactionID: spoofed or stale replies are ignored; the
// matching one is used.
func TestUDPWrongTransactionID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		peers := []netip.AddrPort{netip.MustParseAddrPort("10.1.1.1:1")}
		ft := &fakeTracker{peers: peers}
		ft.mangle = func(resp []byte) [][]byte {
			bad := slices.Clone(resp)
			binary.BigEndian.PutUint32(bad[4:], binary.BigEndian.Uint32(bad[4:])+1)
			evil := AppendUDPAnnounceResponse(nil, binary.BigEndian.Uint32(bad[4:]), 1, 0, 0,
				[]netip.AddrPort{netip.MustParseAddrPort("6.6.6.6:6")}, false)
			return [][]byte{bad, evil, {1, 2, 3}, resp}
		}
		var conns []*fakeUDP
		c := udpClient(&conns, "10.0.0.1:6969", ft, Options{})
		start := time.Now()
		r, err := c.Announce(context.Background(), "udp://t.example:1", AnnounceRequest{Port: 1})
		if err != nil || !slices.Equal(r.Peers, peers) {
			t.Fatalf("%+v %v", r, err)
		}
		if time.Since(start) != 0 {
			t.Fatalf("waited %v", time.Since(start))
		}
		// Only wrong ids: the client times out rather than accepting them.
		ft.mangle = func(resp []byte) [][]byte {
			binary.BigEndian.PutUint32(resp[4:], binary.BigEndian.Uint32(resp[4:])^1)
			return [][]byte{resp}
		}
		c = udpClient(&conns, "10.0.0.1:6969", ft, Options{UDPRetries: -1})
		if _, err := c.Announce(context.Background(), "udp://t.example:1", AnnounceRequest{Port: 1}); !errors.Is(err, ErrTimeout) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestUDPErrorIPv6AndScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		peers := []netip.AddrPort{netip.MustParseAddrPort("[2001:db8::5]:55")}
		ft := &fakeTracker{peers: peers, ipv6: true}
		var conns []*fakeUDP
		c := udpClient(&conns, "[2001:db8::1]:6969", ft, Options{})
		r, err := c.Announce(context.Background(), "udp://[2001:db8::1]:6969", AnnounceRequest{Port: 1})
		if err != nil || !slices.Equal(r.Peers, peers) {
			t.Fatalf("%+v %v", r, err)
		}
		hs := [][20]byte{fill(1), fill(2)}
		m, err := c.Scrape(context.Background(), "udp://[2001:db8::1]:6969", hs...)
		if err != nil || m[fill(2)] != (ScrapeStats{Complete: 2, Downloaded: 10, Incomplete: 20}) {
			t.Fatalf("%v %v", m, err)
		}
		ft.fail = "torrent not registered"
		_, err = c.Announce(context.Background(), "udp://[2001:db8::1]:6969", AnnounceRequest{Port: 1})
		var fe *FailureError
		if !errors.As(err, &fe) || fe.Reason != "torrent not registered" {
			t.Fatalf("err %v", err)
		}
	})
}

// TestUDPContextCancel: cancelling the caller's context ends a wait at once.
func TestUDPContextCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTracker{drop: func(int) bool { return true }}
		var conns []*fakeUDP
		c := udpClient(&conns, "10.0.0.1:6969", ft, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Announce(ctx, "udp://t.example:1", AnnounceRequest{Port: 1})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 20*time.Second {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
	})
}

// TestUDPStaleConnectionIDRecovers: a tracker that restarted refuses the
// cached connection id; the client connects afresh once and succeeds.
func TestUDPStaleConnectionIDRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &fakeTracker{}
		var conns []*fakeUDP
		c := udpClient(&conns, "10.0.0.1:6969", ft, Options{})
		u := "udp://t.example:1"
		if _, err := c.Announce(context.Background(), u, AnnounceRequest{Port: 1}); err != nil {
			t.Fatal(err)
		}
		ft.mu.Lock()
		ft.connects += 10 // the tracker "restarted": the cached id is now wrong
		ft.mu.Unlock()
		if _, err := c.Announce(context.Background(), u, AnnounceRequest{Port: 1}); err != nil {
			t.Fatalf("after restart: %v", err)
		}
		// A real error from a fresh id is not retried in a loop.
		ft.mu.Lock()
		ft.fail = "go away"
		ft.mu.Unlock()
		before := ft.n
		_, err := c.Announce(context.Background(), u, AnnounceRequest{Port: 1})
		var fe *FailureError
		if !errors.As(err, &fe) || fe.Reason != "go away" {
			t.Fatalf("err %v", err)
		}
		// cached id refused -> fresh connect -> refused again: 3 packets.
		if n := ft.n - before; n != 3 {
			t.Fatalf("%d packets for a refused announce", n)
		}
	})
}
