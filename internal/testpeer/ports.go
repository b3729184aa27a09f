package testpeer

import (
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// A port handed to a child process is free only when it is checked, and
// the child binds it a little later. Two things could take it in between:
// the kernel, which gives every outgoing connection and every bind to port
// 0 a port from its ephemeral range (each parallel test binary dials and
// listens many times a second), and another test that picked the same
// number. So the ports come from below the ephemeral range, where the
// kernel never allocates, and each is reserved for the test's lifetime by
// an exclusive flock on a file named after it in a directory every test
// binary of the module shares; the lock dies with its holder, even on
// kill -9, so nothing is left to clean up.

// portLockDir holds one lock file per reserved port.
var portLockDir = filepath.Join(os.TempDir(), "effusion-test-ports")

// lowPorts is the range reserved ports come from, [lo, hi): below the
// kernel's ephemeral range, read once.
var lowPorts = sync.OnceValues(func() (lo, hi int) {
	lo, hi = 20000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	if first, err := strconv.Atoi(f[0]); err == nil && first < hi {
		hi = first
		lo = min(lo, hi/2)
	}
	return lo, hi
})

// reservePort returns a port free for TCP and UDP on every address, below
// the ephemeral range, held for this test alone until it ends.
func reservePort(t testing.TB) int {
	t.Helper()
	if err := os.MkdirAll(portLockDir, 0o777); err != nil {
		t.Fatal(err)
	}
	lo, hi := lowPorts()
	if hi-lo < 1000 {
		return ephemeralPort(t)
	}
	for range 200 {
		port := lo + rand.IntN(hi-lo)
		f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(port)), os.O_CREATE|os.O_RDONLY, 0o666)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			t.Fatal(err)
		}
		if portFree(port) {
			t.Cleanup(func() { f.Close() })
			return port
		}
		f.Close()
	}
	t.Fatalf("no free port reserved in [%d, %d) after 200 tries", lo, hi)
	return 0
}

// portFree reports whether port can be bound for TCP and UDP on the
// wildcard address, as child programs bind it.
func portFree(port int) bool {
	addr := ":" + strconv.Itoa(port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ephemeralPort is the fallback when the host leaves no room below its
// ephemeral range: a port the kernel chose, free a moment ago.
func ephemeralPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
