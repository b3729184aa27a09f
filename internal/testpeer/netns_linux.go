package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Veth is two network namespaces joined by a veth pair (VethPair): two
// hosts on one link, for tests of what loopback cannot show (multicast,
// link addresses).
type Veth struct {
	NsA, NsB string // the namespaces' names
	IfA, IfB string // the pair's interface in each
	A4, B4   string // their IPv4 addresses, 10.<net>.<n>.1 and .2 (/24)
	A6, B6   string // their IPv6 addresses, fd<net in hex>:<n>::1 and ::2 (/64)
}

// VethPair makes two network namespaces, "ef<tag><n>-a" and "-b" (n from
// the process id, so that packages testing at once do not collide; tag at
// most 5 characters), joined by a veth pair with the addresses of Veth
// (net tells packages apart), loopback up and a route for the multicast
// range 239.0.0.0/8 on each side. They are deleted at cleanup (and, left
// over from a killed run, before). Without ip or the privilege to make
// them, the test ends through Missing.
func VethPair(t testing.TB, tag string, net int) Veth {
	t.Helper()
	ip := Require(t, "ip")
	n := os.Getpid()%200 + 1
	v := Veth{
		NsA: fmt.Sprintf("ef%s%d-a", tag, n), NsB: fmt.Sprintf("ef%s%d-b", tag, n),
		IfA: fmt.Sprintf("ef%s%da", tag, n), IfB: fmt.Sprintf("ef%s%db", tag, n),
		A4: fmt.Sprintf("10.%d.%d.1", net, n), B4: fmt.Sprintf("10.%d.%d.2", net, n),
		A6: fmt.Sprintf("fd%02x:%d::1", net, n), B6: fmt.Sprintf("fd%02x:%d::2", net, n),
	}
	run := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	exec.Command(ip, "netns", "del", v.NsA).Run() // left over from a killed run
	exec.Command(ip, "netns", "del", v.NsB).Run()
	if err := run("netns", "add", v.NsA); err != nil {
		Missing(t, "network namespaces (root)", err)
	}
	t.Cleanup(func() { run("netns", "del", v.NsA) })
	if err := run("netns", "add", v.NsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { run("netns", "del", v.NsB) })
	for _, s := range [][]string{
		{"link", "add", v.IfA, "netns", v.NsA, "type", "veth", "peer", "name", v.IfB, "netns", v.NsB},
		{"-n", v.NsA, "addr", "add", v.A4 + "/24", "dev", v.IfA},
		{"-n", v.NsB, "addr", "add", v.B4 + "/24", "dev", v.IfB},
		{"-n", v.NsA, "-6", "addr", "add", v.A6 + "/64", "dev", v.IfA, "nodad"},
		{"-n", v.NsB, "-6", "addr", "add", v.B6 + "/64", "dev", v.IfB, "nodad"},
		{"-n", v.NsA, "link", "set", v.IfA, "up"},
		{"-n", v.NsB, "link", "set", v.IfB, "up"},
		{"-n", v.NsA, "link", "set", "lo", "up"},
		{"-n", v.NsB, "link", "set", "lo", "up"},
		{"-n", v.NsA, "route", "add", "239.0.0.0/8", "dev", v.IfA},
		{"-n", v.NsB, "route", "add", "239.0.0.0/8", "dev", v.IfB},
	} {
		if err := run(s...); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// InNetns runs f on an OS thread inside network namespace ns (a name under
// /run/netns): the sockets f opens stay in it. The thread then returns to
// its own namespace (or, if that fails, is never reused: it stays locked
// and the runtime retires it with the goroutine). Without the privilege
// to enter, the test ends through Missing.
func InNetns(t testing.TB, ns string, f func()) {
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
		Missing(t, "setns", err)
	}
	f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("returning from %s: %v", ns, err)
	}
	runtime.UnlockOSThread()
}
