package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/tracker"
)

// trackerProc is an "effusion tracker" child process.
type trackerProc struct {
	cmd      *exec.Cmd
	announce string         // http://.../announce
	udp      string         // udp://.../announce, "" when off
	readers  sync.WaitGroup // of stdout and stderr
	mu       sync.Mutex
	stderr   bytes.Buffer
	logLines chan string // stderr lines, as they come
}

// startTracker runs the binary with args and waits for the URLs it prints.
func startTracker(t *testing.T, args ...string) *trackerProc {
	t.Helper()
	p := &trackerProc{cmd: exec.Command(effusionBin(t), append([]string{"tracker"}, args...)...), logLines: make(chan string, 1000)}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.readers.Wait()
			p.cmd.Wait()
		}
	})
	p.readers.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.logLines <- sc.Text():
			default:
			}
		}
	})
	urls := make(chan [2]string, 1)
	p.readers.Go(func() {
		var u [2]string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 2 && f[0] == "announce:":
				u[0] = f[1]
			case len(f) == 2 && f[0] == "udp:":
				u[1] = f[1]
				urls <- u
			}
		}
		close(urls)
	})
	select {
	case u, ok := <-urls:
		if !ok {
			t.Fatalf("tracker printed no udp URL; stderr:\n%s", p.log())
		}
		p.announce, p.udp = u[0], u[1]
	case <-time.After(30 * time.Second):
		t.Fatalf("tracker did not start; stderr:\n%s", p.log())
	}
	return p
}

// stop ends the tracker with SIGTERM and returns its exit error.
func (p *trackerProc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.readers.Wait()
	return p.cmd.Wait()
}

func (p *trackerProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitLog waits for a stderr line containing s.
func (p *trackerProc) waitLog(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-p.logLines:
			if strings.Contains(l, s) {
				return l
			}
		case <-timeout:
			t.Fatalf("no log line with %q; stderr:\n%s", s, p.log())
		}
	}
}

// clientFrom is a tracker client whose HTTP and UDP sockets use the local
// address ip (the whole of 127.0.0.0/8 is loopback on Linux).
func clientFrom(ip string) *tracker.Client {
	local := netip.MustParseAddr(ip)
	d := &net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0))}
	return tracker.NewClient(tracker.Options{
		Timeout: 10 * time.Second, MinInterval: -1, UDPBase: time.Second, UDPRetries: 2,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		DialUDP: func(ctx context.Context, network, address string) (tracker.UDPConn, error) {
			ud := &net.Dialer{LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0))}
			c, err := ud.DialContext(ctx, network, address)
			if err != nil {
				return nil, err
			}
			return c.(*net.UDPConn), nil
		},
	})
}

// udpFlooder announces made-up info-hashes over UDP from one local address.
type udpFlooder struct {
	conn *net.UDPConn
	cid  uint64
	buf  []byte
}

func newUDPFlooder(local netip.Addr, trk netip.AddrPort) (*udpFlooder, error) {
	c, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, 0)), net.UDPAddrFromAddrPort(trk))
	if err != nil {
		return nil, err
	}
	f := &udpFlooder{conn: c, buf: make([]byte, 2048)}
	resp, err := f.roundTrip(tracker.AppendUDPConnectRequest(nil, 1), 1)
	if err == nil {
		f.cid, err = tracker.ParseUDPConnectResponse(resp)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return f, nil
}

// roundTrip sends pkt and returns the answer carrying tid, resending a few
// times if none comes within a second.
func (f *udpFlooder) roundTrip(pkt []byte, tid uint32) ([]byte, error) {
	for range 5 {
		if _, err := f.conn.Write(pkt); err != nil {
			return nil, err
		}
		f.conn.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := f.conn.Read(f.buf)
			if err != nil {
				break // time-out: send again
			}
			if h, err := tracker.ParseUDPHeader(f.buf[:n]); err == nil && h.TransactionID == tid {
				return f.buf[:n], nil
			}
		}
	}
	return nil, errors.New("no answer from the tracker")
}

// announce sends one announce for a random info-hash and returns "" when
// it was accepted, or the tracker's error message.
func (f *udpFlooder) announce(tid uint32) (string, error) {
	a := tracker.UDPAnnounce{ConnectionID: f.cid, TransactionID: tid, Left: 1 << 20, Port: 6881, NumWant: -1}
	rand.Read(a.InfoHash[:])
	rand.Read(a.PeerID[:])
	resp, err := f.roundTrip(tracker.AppendUDPAnnounceRequest(nil, &a), tid)
	if err != nil {
		return "", err
	}
	if h, _ := tracker.ParseUDPHeader(resp); h.Action == tracker.ActionError {
		return tracker.ParseUDPError(resp), nil
	}
	return "", nil
}

// TestTrackerFloodCannotLockOut: 20,000 UDP announces of made-up
// info-hashes (1,000 from one address, 100 from each of 190 others, which
// overflow the 10,000-torrent cap) against the real "effusion tracker" with
// its defaults. Afterwards an honest new torrent is accepted over HTTP and
// over UDP, a seeded torrent announced before the flood is still tracked,
// and the tracker's peak RSS stayed under 150 MiB.
func TestTrackerFloodCannotLockOut(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("uses 127.0.0.0/8 source addresses and /proc")
	}
	p := startTracker(t, "--listen", "127.0.0.1:0")
	trk := netip.MustParseAddrPort(strings.TrimSuffix(strings.TrimPrefix(p.udp, "udp://"), "/announce"))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // the whole attack is bounded
	defer cancel()

	seeded := [20]byte{0x5e, 0xed}
	if _, err := clientFrom("127.0.0.2").Announce(ctx, p.announce, tracker.AnnounceRequest{InfoHash: seeded, PeerID: [20]byte{1}, Port: 1, Left: 0, Event: tracker.EventStarted}); err != nil {
		t.Fatal(err)
	}

	type source struct {
		ip netip.Addr
		n  int
	}
	sources := []source{{netip.MustParseAddr("127.0.0.3"), 1000}}
	for i := range 190 {
		sources = append(sources, source{netip.AddrFrom4([4]byte{127, 0, 1 + byte(i/100), 1 + byte(i%100)}), 100})
	}
	var accepted, fromYou, other atomic.Int64
	var firstOther atomic.Value
	work := make(chan source)
	errs := make(chan error, len(sources))
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			for src := range work {
				errs <- func() error {
					f, err := newUDPFlooder(src.ip, trk)
					if err != nil {
						return fmt.Errorf("%v: %w", src.ip, err)
					}
					defer f.conn.Close()
					for i := range src.n {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						msg, err := f.announce(uint32(i + 2))
						switch {
						case err != nil:
							return fmt.Errorf("%v: announce %d: %w", src.ip, i, err)
						case msg == "":
							accepted.Add(1)
						case strings.Contains(msg, "too many new torrents from your address"):
							fromYou.Add(1)
						default:
							other.Add(1)
							firstOther.CompareAndSwap(nil, msg)
						}
					}
					return nil
				}()
			}
		})
	}
	for _, s := range sources {
		work <- s
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	flood := time.Since(start)
	total := accepted.Load() + fromYou.Load() + other.Load()
	if total != 20000 || other.Load() != 0 || fromYou.Load() != 900 {
		t.Fatalf("%d announces: %d accepted, %d refused per address, %d other (%v)", total, accepted.Load(), fromYou.Load(), other.Load(), firstOther.Load())
	}

	// After the flood: an honest new torrent, over HTTP and over UDP.
	for i, url := range []string{p.announce, p.udp} {
		ih := [20]byte{0x40, byte(i)}
		r, err := clientFrom("127.0.0.4").Announce(ctx, url, tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{2}, Port: 2, Left: 1, Event: tracker.EventStarted})
		if err != nil {
			t.Fatalf("honest announce over %s after the flood: %v", url[:4], err)
		}
		if r.Incomplete != 1 {
			t.Fatalf("honest torrent: %+v", r)
		}
	}
	st, err := clientFrom("127.0.0.2").Scrape(ctx, p.announce, seeded)
	if err != nil || st[seeded].Complete != 1 {
		t.Fatalf("the seeded torrent was evicted: %+v %v", st, err)
	}
	rss := peakRSS(t, p.cmd.Process.Pid)
	t.Logf("flood: 20,000 UDP announces from 191 addresses in %v (%.0f/s); %d accepted, %d refused per address; tracker peak RSS %.1f MiB",
		flood.Round(time.Millisecond), 20000/flood.Seconds(), accepted.Load(), fromYou.Load(), float64(rss)/(1<<20))
	if rss >= 150<<20 {
		t.Fatalf("tracker peak RSS %.1f MiB, want under 150 MiB", float64(rss)/(1<<20))
	}
	if err := p.stop(); err != nil {
		t.Fatalf("tracker exit: %v\n%s", err, p.log())
	}
}

// TestTrackerAllowListReload: --allow serves only the listed torrents;
// SIGHUP reloads the file; a file that does not parse keeps the list in
// force and the log says why. UDP listens on --listen's port.
func TestTrackerAllowListReload(t *testing.T) {
	dir := t.TempDir()
	allow := dir + "/allow.txt"
	a, b := [20]byte{0xaa}, [20]byte{0xbb}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(allow, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("# the torrents we track\n%x\n", a))
	p := startTracker(t, "--listen", "127.0.0.1:0", "--allow", allow)
	p.waitLog(t, "allow-list loaded")
	if h, u := strings.TrimSuffix(strings.TrimPrefix(p.announce, "http://"), "/announce"), strings.TrimSuffix(strings.TrimPrefix(p.udp, "udp://"), "/announce"); h != u {
		t.Fatalf("http on %s, udp on %s: want the same address and port", h, u)
	}
	c := clientFrom("127.0.0.1")
	ann := func(ih [20]byte) error {
		for _, url := range []string{p.announce, p.udp} {
			_, err := c.Announce(t.Context(), url, tracker.AnnounceRequest{InfoHash: ih, PeerID: [20]byte{1}, Port: 1, Left: 1})
			var fe *tracker.FailureError
			if err != nil && !(errors.As(err, &fe) && fe.Reason == "torrent not registered with this tracker") {
				t.Fatalf("%s: %v", url, err)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if ann(a) != nil || ann(b) == nil {
		t.Fatal("allow-list not applied")
	}
	write(fmt.Sprintf("%x\n%X # upper case\n", a, b))
	p.cmd.Process.Signal(syscall.SIGHUP)
	if l := p.waitLog(t, "allow-list reloaded"); !strings.Contains(l, "torrents=2") {
		t.Fatal(l)
	}
	if ann(a) != nil || ann(b) != nil {
		t.Fatal("reloaded list not applied")
	}
	write(fmt.Sprintf("%x\nnot a hash\n", a))
	p.cmd.Process.Signal(syscall.SIGHUP)
	if l := p.waitLog(t, "allow-list not reloaded"); !strings.Contains(l, "line 2: want 40 hexadecimal digits") || !strings.Contains(l, allow) {
		t.Fatalf("log line %q does not say why", l)
	}
	if ann(b) != nil {
		t.Fatal("a bad file replaced the list")
	}
	if err := p.stop(); err != nil {
		t.Fatalf("tracker exit: %v\n%s", err, p.log())
	}
}
