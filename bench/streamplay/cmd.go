package streamplay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// cmdSource starts a streaming command (such as `effusion stream`), takes
// the first http:// URL it prints on standard output, and streams from it
// over HTTP. The clock starts before the command does, so the time to the
// first byte includes the command's start-up (and its metadata fetch).
type cmdSource struct {
	cmdline string
	cmd     *exec.Cmd
	http    httpSource
	done    chan error
}

func (s *cmdSource) Open(ctx context.Context) (Reader, int64, error) {
	s.cmd = exec.Command("sh", "-c", s.cmdline)
	s.cmd.Stderr = os.Stderr
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // so close ends its children too
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, 0, err
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); !sent {
				for _, w := range f {
					if strings.HasPrefix(w, "http://") {
						urls <- w
						sent = true
						break
					}
				}
			}
		}
		io.Copy(io.Discard, out)
		if !sent {
			close(urls)
		}
	}()
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	select {
	case u, ok := <-urls:
		if !ok {
			return nil, 0, errors.New("the command printed no http:// URL")
		}
		s.http.url = u
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("waiting for the URL: %w", ctx.Err())
	}
	return s.http.Open(ctx)
}

func (s *cmdSource) Close() error {
	s.http.Close()
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	pg := -s.cmd.Process.Pid
	syscall.Kill(pg, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		syscall.Kill(pg, syscall.SIGKILL)
		<-s.done
	}
	return nil
}
