package testpeer

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFreePorts(t *testing.T) {
	for range 3 {
		p := FreePort(t)
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d not free: %v", p, err)
		}
		l.Close()
		u := FreeUDPPort(t)
		c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(u))
		if err != nil {
			t.Fatalf("udp port %d not free: %v", u, err)
		}
		c.Close()
	}
}

func TestProcLinesAndStop(t *testing.T) {
	sh := Require(t, "sh")
	// Prints two lines, then waits for stdin to close (as the libtorrent
	// scripts do); Stop must end it.
	p := Start(t, t.TempDir(), sh, "-c", "echo one; echo PORT 42; echo oops >&2; cat >/dev/null; echo bye")
	if l := p.WaitLine(t, "PORT ", 10*time.Second); l != "PORT 42" {
		t.Fatalf("line %q", l)
	}
	select {
	case <-p.Done():
		t.Fatal("exited while stdin is open")
	default:
	}
	p.CloseStdin()
	p.Wait(t, 10*time.Second) // exits by itself, with status 0
	if out := p.Output(); !strings.Contains(out, "one\n") || !strings.Contains(out, "oops\n") || !strings.Contains(out, "bye\n") {
		t.Fatalf("output %q", out)
	}
	p.Stop() // idempotent
}

func TestProcWaitAndExitStatus(t *testing.T) {
	sh := Require(t, "sh")
	ok := Start(t, "", sh, "-c", "exit 0")
	ok.Wait(t, 10*time.Second)
	bad := Start(t, "", sh, "-c", "echo last; exit 3")
	<-bad.Done()
	if bad.Err() == nil || !strings.Contains(bad.Err().Error(), "exit status 3") {
		t.Fatalf("exit status: %v", bad.Err())
	}
	// A line printed before the exit is still found.
	if l := bad.WaitLine(t, "last", 10*time.Second); l != "last" {
		t.Fatalf("line %q", l)
	}
}

func TestProcStopInterrupts(t *testing.T) {
	sh := Require(t, "sh")
	// Ignores stdin; SIGINT ends it.
	p := Start(t, "", sh, "-c", "echo up; exec sleep 60")
	p.WaitLine(t, "up", 10*time.Second)
	p.Stop()
	if p.Err() == nil {
		t.Fatal("interrupted sleep reported success")
	}
}

func TestProcWaitPort(t *testing.T) {
	sh := Require(t, "sh")
	p := Start(t, "", sh, "-c", "exec sleep 60")
	port := FreePort(t)
	// Nothing listens yet: WaitPort must not return before the listener.
	if f := runFake(func(tb testing.TB) { p.WaitPort(tb, port, 100*time.Millisecond) }); f.how != "fatal" || !strings.Contains(f.msg, "nothing listens") {
		t.Fatalf("no listener: %s %q", f.how, f.msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p.WaitPort(t, port, 10*time.Second)
	// A process that exits before listening fails at once, whatever the
	// time allowed.
	gone := Start(t, "", sh, "-c", "exit 0")
	<-gone.Done()
	if f := runFake(func(tb testing.TB) { gone.WaitPort(tb, FreePort(t), time.Hour) }); f.how != "fatal" || !strings.Contains(f.msg, "exited") {
		t.Fatalf("exited process: %s %q", f.how, f.msg)
	}
}

// announce sends a minimal HTTP announce and returns the body.
func announce(t *testing.T, announceURL string, h [20]byte) string {
	t.Helper()
	q := "info_hash=" + percentAll(h[:]) + "&peer_id=" + percentAll([]byte("-TP0000-testtesttest")) +
		"&port=7&uploaded=0&downloaded=0&left=5&compact=1&event=started"
	resp, err := http.Get(announceURL + "?" + q)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestStartOpentrackerWhitelist(t *testing.T) {
	// c holds a 0x20 byte and a '+': url.QueryEscape would send them
	// both as "+", which opentracker takes literally.
	a, b, c := [20]byte{1, 2, 3}, [20]byte{0xff, 0, '&', '%'}, [20]byte{0x89, 0x20, '+', 0x20}
	httpURL, udpURL := StartOpentracker(t, a, b, c)
	if !strings.HasPrefix(httpURL, "http://127.0.0.1:") || !strings.HasPrefix(udpURL, "udp://127.0.0.1:") {
		t.Fatalf("urls %q %q", httpURL, udpURL)
	}
	// Ready means every hash is accepted right away, and others refused.
	for _, h := range [][20]byte{a, b, c} {
		if body := announce(t, httpURL, h); strings.Contains(body, "failure reason") || !strings.Contains(body, "8:interval") {
			t.Fatalf("whitelisted %x: %q", h, body)
		}
	}
	if body := announce(t, httpURL, [20]byte{9}); !strings.Contains(body, "failure reason") {
		t.Fatalf("not whitelisted: %q", body)
	}
}

func TestAria2Args(t *testing.T) {
	args := strings.Join(Aria2Args(6881), " ")
	for _, want := range []string{"--listen-port=6881", "--interface=127.0.0.1", "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false"} {
		if !strings.Contains(args, want) {
			t.Errorf("missing %s in %s", want, args)
		}
	}
}

// TestImportedOnlyFromTests enforces the package contract: no non-test file
// of the module imports testpeer (it fails tests and starts processes).
func TestImportedOnlyFromTests(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not at %s: %v", root, err)
	}
	const self = "github.com/effusion-bt/effusion/internal/testpeer"
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, im := range f.Imports {
			if strings.Trim(im.Path.Value, `"`) == self {
				t.Errorf("%s imports %s outside a test", path, self)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("only %d Go files under %s: wrong root?", files, root)
	}
}

// fakeTB records how a helper ended the test: Skipf or Fatalf (both stop
// the calling goroutine, as the real ones do).
type fakeTB struct {
	testing.TB
	how, msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.how, f.msg = "skip", fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.how, f.msg = "fatal", fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runFake(fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestRequireSkipsOrFailsUnderCI(t *testing.T) {
	const missing = "effusion-no-such-binary"
	t.Setenv("CI", "")
	if f := runFake(func(tb testing.TB) { Require(tb, missing) }); f.how != "skip" || !strings.Contains(f.msg, missing) {
		t.Fatalf("without CI: %s %q", f.how, f.msg)
	}
	t.Setenv("CI", "true")
	if f := runFake(func(tb testing.TB) { Require(tb, missing) }); f.how != "fatal" || !strings.Contains(f.msg, "CI=true") {
		t.Fatalf("under CI=true: %s %q", f.how, f.msg)
	}
	if f := runFake(func(tb testing.TB) { Require(tb, "sh") }); f.how != "" {
		t.Fatalf("sh is installed, yet %s %q", f.how, f.msg)
	}
}

// TestFreePortReserved: a port from FreePort lies below the ephemeral range,
// is bindable for TCP and UDP, and stays locked until its test ends, so a
// second pick (here or in another test binary) never returns it.
func TestFreePortReserved(t *testing.T) {
	lo, hi := lowPorts()
	seen := map[int]bool{}
	var first int
	t.Run("hold", func(t *testing.T) {
		for range 20 {
			p := FreePort(t)
			if p < lo || p >= hi {
				t.Fatalf("port %d outside [%d, %d)", p, lo, hi)
			}
			if seen[p] {
				t.Fatalf("port %d handed out twice while held", p)
			}
			seen[p] = true
			first = p
		}
		f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(first)), os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Fatalf("held port %d: a second lock got %v, want EWOULDBLOCK", first, err)
		}
		l, err := net.Listen("tcp", ":"+strconv.Itoa(first))
		if err != nil {
			t.Fatalf("reserved port %d not bindable: %v", first, err)
		}
		l.Close()
	})
	// The subtest ended: its reservations are released.
	f, err := os.OpenFile(filepath.Join(portLockDir, strconv.Itoa(first)), os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("port %d still locked after its test ended: %v", first, err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
