package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// Bad daemon flags exit 2 before anything starts: an RPC address others can
// reach without a user, a user without a password, an unknown log format.
func TestDaemonCmdRefusesBadFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rpc-listen", "0.0.0.0:0"}, "non-loopback RPC address needs a user and password"},
		{[]string{"--rpc-listen", ":9091"}, "non-loopback"},
		{[]string{"--rpc-user", "admin"}, "needs a password"},
		{[]string{"--log-format", "xml"}, "want text or json"},
		{[]string{"--encryption", "maybe"}, "encryption"},
		{[]string{"--dht-bootstrap", "nohost"}, "--dht-bootstrap"},
	} {
		args := append([]string{"daemon", "--data-dir", data, "--port", "0", "--rpc-listen", "127.0.0.1:0"}, c.args...)
		_, stderr, code := runCmd(ctx, args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// daemonProc is the effusion daemon binary running for a test, logging
// JSON lines.
type daemonProc struct {
	cmd   *exec.Cmd
	rpc   string // http://host:port/transmission/rpc
	lines chan map[string]any
	all   *bytes.Buffer
	done  chan error
}

func startDaemonBin(t *testing.T, bin string, args ...string) *daemonProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"daemon", "--log-format", "json", "--port", "0", "--no-dht", "--no-lsd", "--rpc-listen", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &daemonProc{cmd: cmd, lines: make(chan map[string]any, 100), all: new(bytes.Buffer), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.all.Write(append(sc.Bytes(), '\n'))
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				m = map[string]any{"not json": sc.Text()}
			}
			p.lines <- m
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.all)
		}
	})
	for m := range p.lines {
		if m["msg"] == "effusion daemon started" {
			p.rpc = m["rpc"].(string)
			return p
		}
	}
	t.Fatalf("the daemon did not start:\n%s", p.all)
	return nil
}

// rpc calls the daemon through the session-id handshake.
func (p *daemonProc) call(t *testing.T, method string, args any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"method": method, "arguments": args})
	sid := ""
	for range 2 {
		req, _ := http.NewRequest("POST", p.rpc, bytes.NewReader(body))
		req.Header.Set("X-Transmission-Session-Id", sid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusConflict {
			sid = resp.Header.Get("X-Transmission-Session-Id")
			continue
		}
		var r struct {
			Result    string         `json:"result"`
			Arguments map[string]any `json:"arguments"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.Result != "success" {
			t.Fatalf("%s: %s (%v)", method, b, err)
		}
		return r.Arguments
	}
	t.Fatal("no session id")
	return nil
}

// TestDaemonBinarySIGTERM runs the real binary: it logs JSON lines, takes a
// torrent over the RPC, stops cleanly on SIGTERM (exit 0, the torrent
// recorded), and a second run has the torrent back.
func TestDaemonBinarySIGTERM(t *testing.T) {
	bin := effusionBin(t)
	tpath, _, _, _ := transferFixture(t, 1<<20)
	mi, err := metainfo.Load(tpath)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(tpath)
	data, dl := t.TempDir(), t.TempDir()
	p := startDaemonBin(t, bin, "--data-dir", data, "--download-dir", dl)
	a := p.call(t, "torrent-add", map[string]any{"metainfo": base64.StdEncoding.EncodeToString(raw), "paused": true})
	if a["torrent-added"] == nil {
		t.Fatalf("torrent-add: %v", a)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30 s after SIGTERM")
	}
	for _, l := range strings.Split(strings.TrimSpace(p.all.String()), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("a log line is not JSON: %q", l)
		}
	}
	for _, want := range []string{`"msg":"stopping: signal received"`, `"msg":"effusion daemon stopped"`} {
		if !strings.Contains(p.all.String(), want) {
			t.Fatalf("log lacks %s", want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "settings.json")); err != nil {
		t.Fatalf("settings not written: %v", err)
	}

	p2 := startDaemonBin(t, bin, "--data-dir", data, "--download-dir", dl)
	ts := p2.call(t, "torrent-get", map[string]any{"fields": []string{"hashString", "status", "downloadDir"}})["torrents"].([]any)
	if len(ts) != 1 || ts[0].(map[string]any)["hashString"] != mi.InfoHashHex() || ts[0].(map[string]any)["downloadDir"] != dl {
		t.Fatalf("after the restart: %v", ts)
	}
	st := p2.call(t, "session-stats", nil)
	if n := st["cumulative-stats"].(map[string]any)["sessionCount"]; n != 2.0 {
		t.Fatalf("sessionCount %v after two runs", n)
	}
	p2.cmd.Process.Signal(syscall.SIGINT)
	if err := <-p2.done; err != nil {
		t.Fatalf("exit after SIGINT: %v", err)
	}
}
