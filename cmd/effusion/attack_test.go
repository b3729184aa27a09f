package main

// Attacks on the real binary over loopback (issue: bounded under attack).
// Each test measures the honest transfer without the attack first, in the
// same run, then with it, and asserts the bounds: the attacked process's
// peak RSS under 150 MiB, the honest transfer within twice its unattacked
// time, the attacker dropped within a few seconds (silent peers: when a
// useful peer needs the slot). Every attack is bounded in count and time.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/peerwire"
)

const (
	attackRSSLimit = 150 << 20
	// The honest transfer: 24 MiB at 8 MiB/s from the seeder, about 3 s, long
	// enough for an attack to be in full swing and for process start-up to
	// be small beside it.
	attackPayload = 24 << 20
	attackRate    = "8M"
)

// attackFixture is a payload, its torrent and a seeding effusion process.
type attackFixture struct {
	bin     string
	torrent string
	mi      *metainfo.MetaInfo
	data    []byte
	seed    *exec.Cmd
	port    int
}

func newAttackFixture(t *testing.T) *attackFixture {
	t.Helper()
	fx := &attackFixture{bin: effusionBin(t)}
	src := t.TempDir()
	fx.data = make([]byte, attackPayload)
	rand.Read(fx.data)
	if err := os.WriteFile(filepath.Join(src, "payload.bin"), fx.data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, tb, err := metainfo.Build(context.Background(), filepath.Join(src, "payload.bin"), metainfo.BuildOptions{PieceLength: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	fx.mi = mi
	fx.torrent = filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(fx.torrent, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	fx.port = testpeer.FreePort(t)
	fx.seed = exec.Command(fx.bin, "seed", fx.torrent, "-d", src, "--port", strconv.Itoa(fx.port),
		"--bind", "127.0.0.1", "--upload-rate", attackRate, "--no-dht", "--no-lsd")
	var stderr bytes.Buffer
	fx.seed.Stderr = &stderr
	if err := fx.seed.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fx.seed.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { fx.seed.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			fx.seed.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("seeder's stderr:\n%s", stderr.String())
		}
	})
	waitListening(t, fx.port)
	return fx
}

// waitListening waits until something accepts on 127.0.0.1:port.
func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d", port)
}

func (fx *attackFixture) seedAddr() string { return fmt.Sprintf("127.0.0.1:%d", fx.port) }

// download runs `effusion download` to completion (bounded) from the given
// peers and returns its wall time and peak RSS; the copy must be exact.
func (fx *attackFixture) download(t *testing.T, peers ...string) (time.Duration, int64) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"download", fx.torrent, "-o", dir, "--port", "0", "--no-dht", "--no-lsd"}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	// The seeder's upload limit lets a second's worth through at once: give
	// its bucket time to refill, so that every run starts alike.
	time.Sleep(1500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fx.bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// VmHWM, polled: the rusage of a child counts its parent's memory
	// before the exec (vfork), so it says nothing of the child itself.
	var rss atomic.Int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			if v, err := vmHWM(cmd.Process.Pid); err == nil && v > rss.Load() {
				rss.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	took := time.Since(t0)
	close(stop)
	<-polled
	if err != nil {
		t.Fatalf("download: %v\n%s", err, stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, fx.mi.Info.Name))
	if err != nil || !bytes.Equal(got, fx.data) {
		t.Fatalf("the downloaded copy differs (%v)", err)
	}
	return took, rss.Load()
}

// peakRSS is a running process's peak resident set (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	v, err := vmHWM(pid)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func vmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM for process %d", pid)
}

func checkBounds(t *testing.T, what string, base, took time.Duration, rss int64) {
	t.Helper()
	t.Logf("%s: honest transfer %v (unattacked %v, ratio %.2f), peak RSS %d MiB", what, took.Round(time.Millisecond),
		base.Round(time.Millisecond), took.Seconds()/base.Seconds(), rss>>20)
	if took > 2*base {
		t.Errorf("%s: the honest transfer took %v, more than twice its unattacked %v", what, took, base)
	}
	if rss > attackRSSLimit {
		t.Errorf("%s: peak RSS %d MiB, above %d MiB", what, rss>>20, attackRSSLimit>>20)
	}
}

// attacker is a peer that completes the handshake (fast and extension
// bits), sends HAVE NONE and then runs flood on each connection it gets,
// recording how long it took the victim to hang up.
type attacker struct {
	ln      net.Listener
	mi      *metainfo.MetaInfo
	flood   func(c net.Conn) error
	mu      sync.Mutex
	dropped []time.Duration // per connection, from the flood's start to the hang-up
	wg      sync.WaitGroup
}

func startAttacker(t *testing.T, mi *metainfo.MetaInfo, flood func(c net.Conn) error) *attacker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &attacker{ln: ln, mi: mi, flood: flood}
	a.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.wg.Go(func() { a.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		a.wg.Wait()
	})
	return a
}

func (a *attacker) addr() string { return a.ln.Addr().String() }

func (a *attacker) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := peerwire.ReadHandshake(c); err != nil {
		return
	}
	h := peerwire.Handshake{InfoHash: a.mi.InfoHash}
	copy(h.PeerID[:], "-XX0001-attacker0000")
	h.SetFast()
	h.SetExtended()
	if err := peerwire.WriteHandshake(c, h); err != nil {
		return
	}
	if _, err := c.Write(peerwire.AppendSimple(nil, peerwire.MsgHaveNone)); err != nil {
		return
	}
	go func() { // drain what the victim sends, so that only the flood blocks
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	t0 := time.Now()
	if err := a.flood(c); err != nil {
		a.mu.Lock()
		a.dropped = append(a.dropped, time.Since(t0))
		a.mu.Unlock()
	}
}

func (a *attacker) drops() []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Duration(nil), a.dropped...)
}

// flatDict is a bencoded dictionary of about size bytes with many small
// keys, the most expensive shape for a generic decoder.
func flatDict(size int) []byte {
	b := []byte{'d'}
	for i := 0; len(b) < size-16; i++ {
		k := strconv.Itoa(i)
		b = append(b, strconv.Itoa(len(k))...)
		b = append(b, ':')
		b = append(b, k...)
		b = append(b, "i1e"...)
	}
	return append(b, 'e')
}

// repeat writes frame n times (bounded), in batches, within limit; it
// returns the write error that ended it early (the victim hung up).
func repeat(c net.Conn, frame []byte, n int, limit time.Duration) error {
	const batch = 64 << 10
	per := max(1, batch/len(frame))
	buf := bytes.Repeat(frame, per)
	end := time.Now().Add(limit)
	for sent := 0; sent < n && time.Now().Before(end); sent += per {
		if _, err := c.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// TestAttackExtensionAndMessageFloods: a downloading effusion dials an
// attacker besides its seeder. The attacker floods it with 1 MiB extension
// handshakes, 1 MiB messages of an extension we never advertised, choke and
// unchoke at full speed, or repeated HAVEs. Bounded: the download finishes
// in at most twice its time alone, under 150 MiB, and the floods that break
// the protocol get the attacker dropped within a few seconds.
func TestAttackExtensionAndMessageFloods(t *testing.T) {
	fx := newAttackFixture(t)
	base, rss := fx.download(t, fx.seedAddr())
	t.Logf("unattacked: %v, peak RSS %d MiB", base.Round(time.Millisecond), rss>>20)
	huge := flatDict(1 << 20)
	cases := []struct {
		name      string
		flood     func(c net.Conn) error
		mustDrop  bool
		dropLimit time.Duration
	}{
		{"1 MiB extension handshakes", func(c net.Conn) error {
			return repeat(c, peerwire.AppendExtended(nil, 0, huge), 1000, 20*time.Second)
		}, true, 3 * time.Second},
		{"1 MiB messages of an unadvertised extension", func(c net.Conn) error {
			if _, err := c.Write(peerwire.AppendExtended(nil, 0, []byte("d1:md6:ut_pexi1ee1:v3:xxxe"))); err != nil {
				return err
			}
			return repeat(c, peerwire.AppendExtended(nil, 7, huge), 1000, 20*time.Second)
		}, true, 3 * time.Second},
		{"choke and unchoke at full speed", func(c net.Conn) error {
			frame := append(peerwire.AppendSimple(nil, peerwire.MsgChoke), peerwire.AppendSimple(nil, peerwire.MsgUnchoke)...)
			return repeat(c, frame, 2_000_000, 20*time.Second)
		}, true, 3 * time.Second},
		{"repeated HAVEs", func(c net.Conn) error {
			return repeat(c, peerwire.AppendHave(nil, 0), 2_000_000, 20*time.Second)
		}, true, 3 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := startAttacker(t, fx.mi, c.flood)
			took, rss := fx.download(t, fx.seedAddr(), a.addr())
			checkBounds(t, c.name, base, took, rss)
			drops := a.drops()
			if c.mustDrop {
				if len(drops) == 0 {
					t.Fatalf("the attacker was never dropped")
				}
				if drops[0] > c.dropLimit {
					t.Errorf("the attacker was dropped after %v, want within %v", drops[0], c.dropLimit)
				}
				t.Logf("attacker dropped %v after its flood began", drops[0].Round(time.Millisecond))
			}
		})
	}
}

// rawConn completes a handshake with the seeder at addr (from src) and
// returns the connection, or nil if the seeder refused it.
func rawConn(addr, src string, ih [20]byte, id int) net.Conn {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil
	}
	h := peerwire.Handshake{InfoHash: ih}
	copy(h.PeerID[:], fmt.Sprintf("-SI0001-%012d", id))
	h.SetFast()
	h.SetExtended()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if peerwire.WriteHandshake(c, h) != nil {
		c.Close()
		return nil
	}
	if _, err := peerwire.ReadHandshake(bufio.NewReader(c)); err != nil {
		c.Close()
		return nil
	}
	c.SetDeadline(time.Time{})
	return c
}

// TestAttackSilentPeersEvicted: 55 peers complete the handshake with a
// seeder (limit 50) and then send only keep-alives. An honest leecher that
// comes once they have sat there a while takes the slot of one of them.
func TestAttackSilentPeersEvicted(t *testing.T) {
	fx := newAttackFixture(t)
	base, _ := fx.download(t, fx.seedAddr())
	var (
		wg      sync.WaitGroup
		evicted atomic.Int32
		stop    = make(chan struct{})
	)
	for i := range 55 {
		c := rawConn(fx.seedAddr(), "127.0.0.1", fx.mi.InfoHash, i)
		if c == nil {
			continue
		}
		wg.Go(func() {
			defer c.Close()
			gone := make(chan struct{})
			go func() { // the seeder's greeting, then its hang-up
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						close(gone)
						return
					}
				}
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-gone:
					evicted.Add(1)
					return
				case <-stop:
					return
				case <-tick.C:
					c.Write(peerwire.AppendKeepAlive(nil))
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(7 * time.Second) // past the silent grace
	before := evicted.Load()    // refused at the limit
	took, _ := fx.download(t, fx.seedAddr())
	rss := peakRSS(t, fx.seed.Process.Pid)
	checkBounds(t, "55 silent peers", base, took, rss)
	if evicted.Load() <= before {
		t.Errorf("no silent peer was evicted for the honest one (%d closed at the limit)", before)
	}
	t.Logf("silent peers closed: %d at the limit, %d evicted for the leecher", before, evicted.Load()-before)
}

// TestAttackIdleConnectionFlood: 2,000 TCP connections from one address
// that never send a byte. The seeder keeps only a few of them waiting and
// closes the rest at once; an honest leecher from another address is
// served as if nothing happened.
func TestAttackIdleConnectionFlood(t *testing.T) {
	fx := newAttackFixture(t)
	base, _ := fx.download(t, fx.seedAddr())
	const n = 2000
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	for range n {
		c, err := d.Dial("tcp", fx.seedAddr())
		if err != nil {
			continue // the backlog was full for a moment: the seeder is closing the rest
		}
		conns = append(conns, c)
	}
	took, _ := fx.download(t, fx.seedAddr())
	rss := peakRSS(t, fx.seed.Process.Pid)
	checkBounds(t, "2,000 idle connections", base, took, rss)
	// Every idle connection is closed by the seeder: at once beyond the
	// per-address cap, after the first-byte time-out for the rest.
	var closed atomic.Int32
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					closed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if int(closed.Load()) != len(conns) {
		t.Errorf("%d of %d idle connections still open", len(conns)-int(closed.Load()), len(conns))
	}
}
