package client

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/transport"
	"golang.org/x/sys/unix"
)

// vethPair makes two network namespaces ("efnet-..."), joined by a veth
// pair with 10.214.<n>.1 and .2 and a multicast route each, deleted at
// cleanup. Without the privilege the test is skipped, except under CI.
func vethPair(t *testing.T) (nsA, nsB string) {
	t.Helper()
	ip, err := exec.LookPath("ip")
	if err != nil {
		testpeer.Missing(t, "ip (iproute2)", err)
	}
	n := os.Getpid()%200 + 1
	nsA, nsB = fmt.Sprintf("efnet-lsd%d-a", n), fmt.Sprintf("efnet-lsd%d-b", n)
	ifA, ifB := fmt.Sprintf("efnet%da", n), fmt.Sprintf("efnet%db", n)
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
	for _, s := range [][]string{
		{"link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB},
		{"-n", nsA, "addr", "add", fmt.Sprintf("10.214.%d.1/24", n), "dev", ifA},
		{"-n", nsB, "addr", "add", fmt.Sprintf("10.214.%d.2/24", n), "dev", ifB},
		{"-n", nsA, "link", "set", ifA, "up"},
		{"-n", nsB, "link", "set", ifB, "up"},
		{"-n", nsA, "link", "set", "lo", "up"},
		{"-n", nsB, "link", "set", "lo", "up"},
		{"-n", nsA, "route", "add", "239.0.0.0/8", "dev", ifA},
		{"-n", nsB, "route", "add", "239.0.0.0/8", "dev", ifB},
	} {
		if err := run(s...); err != nil {
			t.Fatal(err)
		}
	}
	return nsA, nsB
}

// inNetns runs f on a thread in network namespace ns: the sockets f opens
// stay in it. Without the privilege the test is skipped (not under CI).
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

// TestClientLSD: two hosts (network namespaces joined by a veth pair), no
// tracker, no DHT, no peers given: each client finds the other's torrents
// by local service discovery (BEP 14), and each peer heard reaches the
// torrent it was announced for: both torrents complete. A private torrent
// (BEP 27) on both hosts is never announced and finds no one. The clients
// open their sockets inside their namespaces and dial uTP only (a TCP dial
// would open its socket in the test's own namespace).
func TestClientLSD(t *testing.T) {
	nsA, nsB := vethPair(t)
	fxA, fxB := newFixture(t, 700_001), newFixture(t, 500_003, 9)
	priv := privateFixture(t, fxA)
	start := func(ns string) *Client {
		var c *Client
		inNetns(t, ns, func() {
			var err error
			c, err = New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: ":0", Logger: quiet(),
				NoDHT: true, Transport: transport.UTP,
				lsdInTests: true, lsdInterval: 2 * time.Second, lsdGap: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
		})
		t.Cleanup(func() { c.Shutdown(context.Background()) })
		return c
	}
	seed := start(nsA)
	if _, ok := seed.LSDStats(); !ok {
		t.Fatal("LSD is off")
	}
	for _, mi := range []*metainfo.MetaInfo{fxA.mi, fxB.mi, priv} {
		tt, err := seed.Add(context.Background(), Spec{Torrent: mi, Dir: map[bool]string{true: fxB.dir, false: fxA.dir}[mi == fxB.mi]})
		if err != nil {
			t.Fatal(err)
		}
		await(t, tt)
	}
	leech := start(nsB)
	dlA, dlB := t.TempDir(), t.TempDir()
	var ts []*Torrent
	for _, sp := range []Spec{{Torrent: fxA.mi, Dir: dlA}, {Torrent: fxB.mi, Dir: dlB}, {Torrent: priv, Dir: t.TempDir()}} {
		tt, err := leech.Add(context.Background(), sp)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tt)
	}
	for _, tt := range ts[:2] {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		err := tt.Await(ctx)
		cancel()
		if err != nil {
			st, _ := leech.LSDStats()
			st2, _ := seed.LSDStats()
			t.Fatalf("%s not found by LSD: %v (leecher LSD %+v, seeder LSD %+v)", tt.Name(), err, st, st2)
		}
	}
	sameFiles(t, fxA, dlA)
	sameFiles(t, fxB, dlB)
	time.Sleep(3 * time.Second) // more than an LSD interval
	if st := ts[2].Stats(); st.Peers != 0 || st.Downloaded != 0 {
		t.Fatalf("the private torrent found a peer: %+v", st)
	}
}
