package testpeer

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long Stop waits after SIGINT before killing.
const stopGrace = 5 * time.Second

// Proc is an external program under test, started by Start. Its stdout and
// stderr are kept for failure reports, and its stdout lines can be waited
// for. Its stdin is a pipe that stays open until Stop (scripts that exit
// when stdin closes keep running meanwhile). Methods are safe for concurrent
// use.
type Proc struct {
	// Name is the program's base name, for messages.
	Name string

	cmd   *exec.Cmd
	stdin io.Closer // closing an os/exec stdin pipe twice is harmless
	mu    sync.Mutex
	out   bytes.Buffer // stdout and stderr interleaved
	lines chan string  // stdout lines not yet taken by WaitLine
	done  chan struct{}
	err   error // exit status, set before done is closed
	once  sync.Once
}

// Start runs name with args in dir ("" for the test's working directory).
// At the test's cleanup the process is stopped (see Stop) and, if the test
// failed, its output is logged.
func Start(t testing.TB, dir, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	// Its own process group, signalled as a whole: scripts that run their
	// work in a child (lt_peer.py) leave nothing behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Proc{Name: filepath.Base(name), cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	cmd.Stderr = (*procWriter)(p)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := sc.Text()
			p.mu.Lock()
			p.out.WriteString(l + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- l:
			default: // nobody waits for lines this far back
			}
		}
		io.Copy(io.Discard, stdout) // a line too long for the scanner
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", p.Name, p.Output())
		}
	})
	return p
}

type procWriter Proc

func (w *procWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(b)
}

// Output returns what the process wrote so far (stdout and stderr).
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// Done is closed when the process has exited; Err then gives its status.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns the exit status (nil for status 0) once Done is closed, and
// nil before.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// CloseStdin closes the process's stdin (scripts that wait on it then exit
// by themselves). Safe to call more than once.
func (p *Proc) CloseStdin() { p.stdin.Close() }

// Stop closes stdin, interrupts the process (SIGINT) and waits for it,
// killing it after 5 s. It returns at once if the process has exited, and
// may be called more than once.
func (p *Proc) Stop() {
	p.once.Do(func() {
		p.stdin.Close()
		select {
		case <-p.done:
			return
		default:
		}
		pid := p.cmd.Process.Pid
		syscall.Kill(-pid, syscall.SIGINT)
		timer := time.NewTimer(stopGrace)
		defer timer.Stop()
		select {
		case <-p.done:
		case <-timer.C:
			syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
		syscall.Kill(-pid, syscall.SIGKILL) // whatever the group left running
	})
	<-p.done
}

// WaitLine waits for a stdout line starting with prefix and returns it. It
// fails the test if the process exits first or nothing matches within the
// given time (a guard against a hung program, not a timing assertion).
func (p *Proc) WaitLine(t testing.TB, prefix string, within time.Duration) string {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-p.done:
			// Lines read before the exit are still queued.
			for {
				select {
				case l := <-p.lines:
					if strings.HasPrefix(l, prefix) {
						return l
					}
				default:
					t.Fatalf("%s exited (%v) before printing %q\n%s", p.Name, p.err, prefix, p.Output())
				}
			}
		case <-timer.C:
			t.Fatalf("%s did not print %q within %v\n%s", p.Name, prefix, within, p.Output())
		}
	}
}

// Wait waits for the process to exit by itself and fails the test unless
// it exits with status 0 within the given time.
func (p *Proc) Wait(t testing.TB, within time.Duration) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s: %v\n%s", p.Name, p.err, p.Output())
		}
	case <-timer.C:
		t.Fatalf("%s did not finish within %v\n%s", p.Name, within, p.Output())
	}
}

// WaitPort waits until something accepts TCP connections on
// 127.0.0.1:port, for programs that print nothing when they are ready. It
// fails the test if the process exits first or nothing listens within the
// given time (a guard against a hung program, not a timing assertion).
func (p *Proc) WaitPort(t testing.TB, port int, within time.Duration) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before listening on %s\n%s", p.Name, p.err, addr, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: nothing listens on %s after %v: %v\n%s", p.Name, addr, within, err, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
