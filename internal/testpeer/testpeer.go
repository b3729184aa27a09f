// Package testpeer holds what interoperability tests share when they run
// real BitTorrent programs on loopback: finding the program (skip when it is
// missing, fail under CI=true), the Debian python that has libtorrent, free
// ports, a whitelisting opentracker that is ready before the test uses it,
// aria2's options for a plain peer, and supervised child processes.
//
// It is a normal package so that several packages' tests can import it, but
// only _test.go files may import it: it calls t.Fatal and t.Skip and starts
// processes. It imports nothing from this module (the packages whose tests
// use it, tracker among them, would otherwise form an import cycle).
//
// Every helper takes the test's testing.TB and registers its own cleanup;
// none of them is safe to call after the test has finished.
package testpeer

import (
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// PythonPath is the interpreter that can import Debian's python3-libtorrent
// (the module is installed for the system python only, not for a python
// found earlier in PATH).
const PythonPath = "/usr/bin/python3"

// InCI reports whether the tests run in CI (the environment variable CI is
// "true"), where a missing interop program is a failure, not a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because something it needs is not available: it
// skips, or under CI=true fails, with a message naming what and why.
func Missing(t testing.TB, what string, why error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s not available (required when CI=true): %v", what, why)
	}
	t.Skipf("%s not available: %v", what, why)
}

// Require returns the path of binary (looked up in PATH), or ends the test
// through Missing.
func Require(t testing.TB, binary string) string {
	t.Helper()
	p, err := exec.LookPath(binary)
	if err != nil {
		Missing(t, binary, err)
	}
	return p
}

// libtorrentErr is the outcome of `import libtorrent`, checked once per
// test binary (importing it takes a noticeable fraction of a second).
var libtorrentErr = sync.OnceValue(func() error {
	if _, err := os.Stat(PythonPath); err != nil {
		return err
	}
	out, err := exec.Command(PythonPath, "-c", "import libtorrent").CombinedOutput()
	if err != nil {
		return &importError{err: err, out: string(out)}
	}
	return nil
})

type importError struct {
	err error
	out string
}

func (e *importError) Error() string { return "import libtorrent: " + e.err.Error() + ": " + e.out }
func (e *importError) Unwrap() error { return e.err }

// Python returns PythonPath once `import libtorrent` works there, or ends the
// test through Missing ("python3-libtorrent").
func Python(t testing.TB) string {
	t.Helper()
	if err := libtorrentErr(); err != nil {
		Missing(t, "python3-libtorrent", err)
	}
	return PythonPath
}

// FreePort returns a port on which a child process may listen for TCP (and
// UDP: it is free for both, on every address). It is reserved for this test
// until it ends, and comes from below the kernel's ephemeral range, so that
// neither another test nor an outgoing connection takes it before the child
// binds it (see ports.go).
func FreePort(t testing.TB) int {
	t.Helper()
	return reservePort(t)
}

// FreeUDPPort is FreePort, named for a child that listens on UDP.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	return reservePort(t)
}

//go:embed lt_peer.py
var ltPeerScript []byte

// Libtorrent returns the python that imports libtorrent and the path of a
// libtorrent peer script (lt_peer.py: create, seed, leech; see its
// docstring), written for this test; or ends the test through Missing.
func Libtorrent(t testing.TB) (python, script string) {
	t.Helper()
	python = Python(t)
	script = filepath.Join(t.TempDir(), "lt_peer.py")
	if err := os.WriteFile(script, ltPeerScript, 0o755); err != nil {
		t.Fatal(err)
	}
	return python, script
}
