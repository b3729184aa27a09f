package lsd

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"golang.org/x/sys/unix"
)

// vethPair makes two network namespaces joined by a veth pair, with
// 10.213.<n>.1 and .2 and fd13:<n>::1 and ::2, and the multicast routes;
// it returns the namespaces' names and the interface name in each. They
// are deleted at cleanup. Without the privilege to make them the test is
// skipped, except under CI.
func vethPair(t *testing.T) (nsA, nsB, ifA, ifB string) {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		testpeer.Missing(t, "ip (iproute2)", err)
	}
	n := os.Getpid()%200 + 1
	nsA, nsB = fmt.Sprintf("efdht-lsd%d-a", n), fmt.Sprintf("efdht-lsd%d-b", n)
	ifA, ifB = fmt.Sprintf("efdht%da", n), fmt.Sprintf("efdht%db", n)
	run := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	exec.Command(ip, "netns", "del", nsA).Run() // left over from a killed run
	exec.Command(ip, "netns", "del", nsB).Run()
	if err := run("netns", "add", nsA); err != nil {
		testpeer.Missing(t, "network namespaces (root)", err)
	}
	t.Cleanup(func() { run("netns", "del", nsA) })
	if err := run("netns", "add", nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run("netns", "del", nsB) })
	steps := [][]string{
		{"link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB},
		{"-n", nsA, "addr", "add", fmt.Sprintf("10.213.%d.1/24", n), "dev", ifA},
		{"-n", nsB, "addr", "add", fmt.Sprintf("10.213.%d.2/24", n), "dev", ifB},
		{"-n", nsA, "-6", "addr", "add", fmt.Sprintf("fd13:%d::1/64", n), "dev", ifA, "nodad"},
		{"-n", nsB, "-6", "addr", "add", fmt.Sprintf("fd13:%d::2/64", n), "dev", ifB, "nodad"},
		{"-n", nsA, "link", "set", ifA, "up"},
		{"-n", nsB, "link", "set", ifB, "up"},
		{"-n", nsA, "route", "add", "239.0.0.0/8", "dev", ifA},
		{"-n", nsB, "route", "add", "239.0.0.0/8", "dev", ifB},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			t.Fatal(err)
		}
	}
	return
}

// inNetns runs f on a thread that is in network namespace ns: sockets f
// opens stay in it. The thread returns to its namespace afterwards (or,
// if that fails, is never reused).
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		testpeer.Missing(t, "setns", err)
	}
	f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("returning from %s: %v", ns, err) // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
}

type heard struct {
	ih   [20]byte
	peer netip.AddrPort
}

// TestServiceOverVeth: two hosts (network namespaces joined by a veth
// pair) run a Service each; what one announces, the other hears, over IPv4
// and IPv6, with the announcing host's address and port; neither delivers
// its own announces.
func TestServiceOverVeth(t *testing.T) {
	nsA, nsB, ifA, ifB := vethPair(t)
	start := func(ns, ifname string, port uint16, ch chan heard) *Service {
		var s *Service
		inNetns(t, ns, func() {
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				t.Fatal(err)
			}
			s, err = New(t.Context(), Config{Port: port, Interface: ifi, Interval: 300 * time.Millisecond, Gap: 100 * time.Millisecond,
				OnPeer: func(ih [20]byte, p netip.AddrPort) { ch <- heard{ih, p} }})
			if err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { s.Close() })
		return s
	}
	chA, chB := make(chan heard, 1000), make(chan heard, 1000)
	a := start(nsA, ifA, 6881, chA)
	b := start(nsB, ifB, 6882, chB)
	t.Logf("families joined: %v", a.Stats().Families)
	ih := [20]byte{0xee, 1}
	a.Add(ih)
	b.Add([20]byte{0xee, 2})
	n := os.Getpid()%200 + 1
	want := map[string]bool{fmt.Sprintf("10.213.%d.1:6881", n): false}
	if len(b.Stats().Families) == 2 && len(a.Stats().Families) == 2 {
		// Over IPv6 the source is A's link-local address (with its zone)
		// or fd13:n::1, whichever the kernel picks for the group.
		want["v6"] = false
	}
	timeout := time.After(20 * time.Second)
	for missing := len(want); missing > 0; {
		select {
		case h := <-chB:
			if h.ih != ih {
				t.Fatalf("B heard %x from %v", h.ih, h.peer)
			}
			key := h.peer.String()
			if h.peer.Addr().Is6() && h.peer.Port() == 6881 {
				key = "v6"
			}
			if done, ok := want[key]; ok && !done {
				want[key] = true
				missing--
			}
		case <-timeout:
			t.Fatalf("B heard only %v; stats A %+v B %+v", want, a.Stats(), b.Stats())
		}
	}
	select {
	case h := <-chA:
		if h.ih != ([20]byte{0xee, 2}) || h.peer.Port() != 6882 {
			t.Fatalf("A heard %+v", h)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("A heard nothing: %+v", a.Stats())
	}
	time.Sleep(time.Second)
	if st := a.Stats(); st.Own == 0 || st.Sent == 0 {
		t.Fatalf("A's own announces not looped back and ignored: %+v", st)
	}
}
