package utp

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// testbed is three network namespaces in a line, A - R - B, joined by veth
// pairs, with R forwarding: A is 198.18.0.1, B is 198.18.0.6 (addresses from
// the benchmarking range RFC 2544 sets aside). A bottleneck belongs on R
// (on "efutprb", its side toward B): on the sender's own interface, TCP
// small queues would throttle a TCP sender behind another flow's standing
// queue, which no real network does. Names start with "efutp"; everything
// is deleted at cleanup.
type testbed struct {
	a, r, b string
}

const (
	tbA = "198.18.0.1"
	tbB = "198.18.0.6"
)

func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newTestbed(t testing.TB) *testbed {
	t.Helper()
	if os.Geteuid() != 0 {
		testpeer.Missing(t, "root (network namespaces)", errors.New("not running as root"))
	}
	testpeer.Require(t, "ip")
	testpeer.Require(t, "tc")
	tb := &testbed{a: "efutpA", r: "efutpR", b: "efutpB"}
	all := []string{tb.a, tb.r, tb.b}
	for _, ns := range all {
		exec.Command("ip", "netns", "del", ns).Run() // a leftover of an interrupted run
	}
	t.Cleanup(func() {
		for _, ns := range all {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for _, ns := range all {
		run(t, "ip", "netns", "add", ns)
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "efutpa", "netns", tb.a, "type", "veth", "peer", "name", "efutpra", "netns", tb.r)
	run(t, "ip", "link", "add", "efutpb", "netns", tb.b, "type", "veth", "peer", "name", "efutprb", "netns", tb.r)
	for _, x := range [][3]string{
		{tb.a, "efutpa", tbA + "/30"}, {tb.r, "efutpra", "198.18.0.2/30"},
		{tb.r, "efutprb", "198.18.0.5/30"}, {tb.b, "efutpb", tbB + "/30"},
	} {
		run(t, "ip", "-n", x[0], "addr", "add", x[2], "dev", x[1])
		run(t, "ip", "-n", x[0], "link", "set", x[1], "up")
	}
	run(t, "ip", "-n", tb.a, "route", "add", "default", "via", "198.18.0.2")
	run(t, "ip", "-n", tb.b, "route", "add", "default", "via", "198.18.0.5")
	run(t, "ip", "netns", "exec", tb.r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	return tb
}

// in runs f on an OS thread inside namespace ns: sockets it creates stay
// in ns afterwards.
func (tb *testbed) in(t testing.TB, ns string, f func()) {
	t.Helper()
	testpeer.InNetns(t, ns, f)
}

// counter is an io.Writer that counts.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// LEDBAT yields: on a 20 Mbit/s link (tc tbf, 200 ms of queue), a uTP
// flow that has the link alone backs off when a TCP flow starts, and the
// TCP flow gets most of the bandwidth.
func TestLedbatYieldsToTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 s")
	}
	tb := newTestbed(t)
	run(t, "ip", "netns", "exec", tb.r, "tc", "qdisc", "add", "dev", "efutprb", "root", "tbf",
		"rate", "20mbit", "burst", "32kb", "latency", "200ms")

	var ua, ub *Socket
	var tl net.Listener
	var err error
	tb.in(t, tb.a, func() { ua, err = Listen("udp4", tbA+":0", Config{}) })
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	tb.in(t, tb.b, func() {
		if ub, err = Listen("udp4", tbB+":0", Config{}); err == nil {
			tl, err = net.Listen("tcp4", tbB+":0")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ub.Close()
	defer tl.Close()

	ud, uacc := connPair(t, ua, ub)
	var utpBytes, tcpBytes counter
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for ctx.Err() == nil {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}
	go stream(ud)
	go io.Copy(&utpBytes, uacc)

	measure := func(d time.Duration) (u, c float64) {
		u0, c0 := utpBytes.n.Load(), tcpBytes.n.Load()
		time.Sleep(d)
		return float64(utpBytes.n.Load()-u0) / d.Seconds(), float64(tcpBytes.n.Load()-c0) / d.Seconds()
	}
	time.Sleep(2 * time.Second)
	alone, _ := measure(2 * time.Second)

	var td net.Conn
	// A loss-based TCP (cubic, Linux's default) fills the queue, which is
	// what LEDBAT detects. BBR keeps queues short and so does not push uTP
	// back; this machine's default may be BBR, so ask for cubic.
	dialer := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "cubic")
		})
		return serr
	}}
	tb.in(t, tb.a, func() { td, err = dialer.Dial("tcp4", tl.Addr().String()) })
	if err != nil {
		t.Fatal(err)
	}
	tacc, err := tl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	go stream(td)
	go io.Copy(&tcpBytes, tacc)
	time.Sleep(2 * time.Second)
	u, c := measure(6 * time.Second)
	cancel()
	ud.Close()
	td.Close()
	uacc.Close()
	tacc.Close()
	share := c / (u + c)
	t.Logf("uTP alone %.2f Mbit/s; together uTP %.2f Mbit/s, TCP %.2f Mbit/s: TCP share %.1f%%; uTP %+v",
		alone*8/1e6, u*8/1e6, c*8/1e6, 100*share, ud.(*Conn).Stats())
	if alone*8 < 10e6 {
		t.Errorf("uTP alone used only %.2f Mbit/s of 20", alone*8/1e6)
	}
	if share <= 0.5 {
		t.Errorf("TCP got %.1f%% of the link next to uTP, want more than half", 100*share)
	}
}
