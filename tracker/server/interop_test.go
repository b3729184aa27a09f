package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const python = "/usr/bin/python3" // Debian's python3-libtorrent imports only here

// needInterop skips (or fails under CI=true) when a real client is missing.
func needInterop(t *testing.T) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("aria2c"); err != nil {
		missing = "aria2c"
	} else if err := exec.Command(python, "-c", "import libtorrent").Run(); err != nil {
		missing = "python3-libtorrent"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed (required when CI=true)", missing)
	}
	t.Skipf("%s not installed", missing)
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc runs a client in the background; it is killed at cleanup. done
// receives its exit error.
func startProc(t *testing.T, name string, args ...string) (*exec.Cmd, <-chan error, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		done <- cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return cmd, done, out
}

// TestRealClientsFindEachOther: a libtorrent seeder, a libtorrent leecher and
// an aria2 leecher announce to our tracker, appear in its peer store, learn of
// each other from it and complete the download (there is no other way for
// them to meet: no DHT, LSD or PEX).
func TestRealClientsFindEachOther(t *testing.T) {
	needInterop(t)
	s := startServer(t, Config{Interval: time.Minute})
	dir := t.TempDir()
	seedDir := filepath.Join(dir, "seed")
	os.MkdirAll(seedDir, 0o755)
	payload := make([]byte, 300<<10+123)
	rand.Read(payload)
	data := filepath.Join(seedDir, "payload.bin")
	if err := os.WriteFile(data, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	tfile := filepath.Join(dir, "t.torrent")
	script, _ := filepath.Abs("testdata/ltpeer.py")
	out, err := exec.Command(python, script, "make", data, s.AnnounceURL(), tfile).CombinedOutput()
	if err != nil {
		t.Fatalf("make torrent: %v: %s", err, out)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil || len(raw) != 20 {
		t.Fatalf("info-hash %q", out)
	}
	ih := [20]byte(raw)
	var seenMu sync.Mutex
	started := map[uint16]bool{} // ports that announced "started" for ih
	s.store.mu.Lock()            // the handlers read observe under this lock
	s.store.observe = func(in announceIn) {
		if in.infoHash == ih && in.event == evStarted {
			seenMu.Lock()
			started[in.addr.Port()] = true
			seenMu.Unlock()
		}
	}
	s.store.mu.Unlock()

	seedPort, ltPort, ariaPort := freeTCPPort(t), freeTCPPort(t), freeTCPPort(t)
	_, seedDone, seedOut := startProc(t, python, script, "seed", tfile, seedDir, strconv.Itoa(seedPort), "60")
	ltDir, ariaDir := filepath.Join(dir, "lt"), filepath.Join(dir, "aria2")
	os.MkdirAll(ltDir, 0o755)
	_, ltDone, ltOut := startProc(t, python, script, "leech", tfile, ltDir, strconv.Itoa(ltPort), "60")
	_, ariaDone, ariaOut := startProc(t, "aria2c", "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--listen-port="+strconv.Itoa(ariaPort),
		"--interface=127.0.0.1", "--disable-ipv6=true", "--bt-require-crypto=false", "--bt-save-metadata=false",
		"--console-log-level=warn", "--summary-interval=0", "--bt-stop-timeout=60", "--dir="+ariaDir, tfile)

	// Both leechers must finish; the seeder keeps running.
	deadline := time.After(60 * time.Second)
	ltOK, ariaOK := false, false
	for !ltOK || !ariaOK {
		select {
		case err := <-ltDone:
			if err != nil {
				t.Fatalf("libtorrent leecher: %v\n%s", err, ltOut)
			}
			ltOK, ltDone = true, nil
		case err := <-ariaDone:
			if err != nil {
				t.Fatalf("aria2 leecher: %v\n%s", err, ariaOut)
			}
			ariaOK, ariaDone = true, nil
		case err := <-seedDone:
			t.Fatalf("seeder exited: %v\n%s", err, seedOut)
		case <-deadline:
			t.Fatalf("timed out (lt %v, aria2 %v); store %+v\nlt: %s\naria2: %s\nseed: %s", ltOK, ariaOK, s.Peers(ih), ltOut, ariaOut, seedOut)
		case <-time.After(50 * time.Millisecond):
		}
	}
	seenMu.Lock()
	for _, p := range []int{seedPort, ltPort, ariaPort} {
		if !started[uint16(p)] {
			t.Errorf("port %d never announced started (seen %v)", p, started)
		}
	}
	seenMu.Unlock()
	// The seeder is still running: it is in the peer store, as a seed.
	found := false
	for _, p := range s.Peers(ih) {
		found = found || (int(p.Addr.Port()) == seedPort && p.Seed)
	}
	if !found {
		t.Errorf("seeder missing from the peer store: %+v", s.Peers(ih))
	}
	for _, d := range []string{ltDir, ariaDir} {
		got, err := os.ReadFile(filepath.Join(d, "payload.bin"))
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: payload differs (%v)", d, err)
		}
	}
	_, _, dl, _ := s.Stats(ih)
	if dl < 1 {
		t.Errorf("no completed download counted (%d)", dl)
	}
}
