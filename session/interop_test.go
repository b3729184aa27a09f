package session

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// Interoperability tests against real clients on loopback. A missing binary
// skips the test, except under CI=true, where it fails.

const python = "/usr/bin/python3"

func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (required when CI=true)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// needLibtorrent returns the path of the libtorrent peer script.
func needLibtorrent(t *testing.T) string {
	t.Helper()
	needBinary(t, python)
	if err := exec.Command(python, "-c", "import libtorrent").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-libtorrent not importable (required when CI=true): %v", err)
		}
		t.Skipf("python3-libtorrent not importable: %v", err)
	}
	p, err := filepath.Abs("testdata/lt_peer.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitPort waits (bounded) until something listens on 127.0.0.1:port.
func waitPort(t *testing.T, port int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d after %v: %v", port, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proc is an external client under test.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer // stdout and stderr, for failure reports
	line chan string  // stdout lines
	done chan error
}

func startProc(t *testing.T, dir string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	p := &proc{name: filepath.Base(name), cmd: cmd, line: make(chan string, 100), done: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = (*lockedWriter)(p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := sc.Text()
			p.mu.Lock()
			p.out.WriteString(l + "\n")
			p.mu.Unlock()
			select {
			case p.line <- l:
			default:
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, p.output())
		}
	})
	return p
}

type lockedWriter proc

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop interrupts the process and waits (bounded) for it.
func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// waitLine waits for a stdout line starting with prefix.
func (p *proc) waitLine(t *testing.T, prefix string, within time.Duration) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case l := <-p.line:
			if strings.HasPrefix(l, prefix) {
				return
			}
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited (%v) before printing %q", p.name, err, prefix)
		case <-timer.C:
			t.Fatalf("%s did not print %q within %v", p.name, prefix, within)
		}
	}
}

// wait waits for the process to exit by itself with status 0.
func (p *proc) wait(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
	case <-time.After(within):
		t.Fatalf("%s did not finish within %v", p.name, within)
	}
}

// startOpentracker runs opentracker on loopback with infoHash whitelisted
// and returns its HTTP announce URL.
func startOpentracker(t *testing.T, infoHash [20]byte) string {
	t.Helper()
	bin := needBinary(t, "opentracker")
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	wl := filepath.Join(dir, "whitelist")
	if err := os.WriteFile(wl, []byte(hex.EncodeToString(infoHash[:])+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	startProc(t, dir, bin, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-P", strconv.Itoa(freePort(t)), "-d", dir, "-w", "/whitelist")
	waitPort(t, port, 5*time.Second)
	return "http://127.0.0.1:" + strconv.Itoa(port) + "/announce"
}

// trackedTorrent writes a payload under seedDir, starts opentracker for it
// and returns the torrent (announcing to it) and its file.
func trackedTorrent(t *testing.T, seedDir string, size int) (*metainfo.MetaInfo, string) {
	t.Helper()
	data := randomData(uint64(size), size)
	mi, _ := makeTorrent(t, t.TempDir(), "payload.bin", 64<<10, "", testFile{data: data})
	url := startOpentracker(t, mi.InfoHash)
	mi, tb := makeTorrent(t, seedDir, "payload.bin", 64<<10, url, testFile{data: data})
	path := filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(path, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	return mi, path
}

func lp(port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

func TestInteropDownloadFromLibtorrent(t *testing.T) {
	script := needLibtorrent(t)
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+777)
	seeder := startProc(t, seedDir, python, script, "seed", tpath, seedDir, strconv.Itoa(freePort(t)))
	seeder.waitLine(t, "READY", 30*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir})
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
}

func TestInteropSeedToLibtorrent(t *testing.T) {
	script := needLibtorrent(t)
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+1)
	s := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, s, 10*time.Second)
	leech := startProc(t, dir, python, script, "leech", tpath, dir, strconv.Itoa(freePort(t)), "--max-seconds", "60")
	leech.wait(t, 70*time.Second)
	samePayload(t, mi, seedDir, dir)
	if st := s.Stats(); st.Uploaded < mi.Info.TotalLength() {
		t.Fatalf("seeder uploaded %d bytes, want at least %d", st.Uploaded, mi.Info.TotalLength())
	}
}

// aria2Args are the options that make aria2c a plain loopback BitTorrent
// peer.
func aria2Args(port int) []string {
	return []string{"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--listen-port=" + strconv.Itoa(port), "--interface=127.0.0.1",
		"--disable-ipv6=true", "--bt-require-crypto=false", "--bt-min-crypto-level=plain",
		"--bt-save-metadata=false", "--console-log-level=warn", "--summary-interval=0",
		"--bt-tracker-interval=1", "--no-conf=true"}
}

func TestInteropDownloadFromAria2(t *testing.T) {
	bin := needBinary(t, "aria2c")
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+4321)
	port := freePort(t)
	args := append(aria2Args(port), "--seed-ratio=0.0", "--check-integrity=true", "--dir="+seedDir, tpath)
	startProc(t, seedDir, bin, args...)
	waitPort(t, port, 30*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{lp(port)}})
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
}

func TestInteropSeedToAria2(t *testing.T) {
	bin := needBinary(t, "aria2c")
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+99)
	s := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, s, 10*time.Second)
	args := append(aria2Args(freePort(t)), "--seed-time=0", "--dir="+dir, tpath)
	leech := startProc(t, dir, bin, args...)
	leech.wait(t, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
}

func TestInteropDownloadFromTransmission(t *testing.T) {
	bin := needBinary(t, "transmission-cli")
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 2<<20+5)
	port := freePort(t)
	// Transmission ignores 127/8 peers from trackers: we dial it.
	startProc(t, seedDir, bin, "-g", filepath.Join(t.TempDir(), "cfg"), "-w", seedDir,
		"-p", strconv.Itoa(port), "-D", "-U", "-M", "-et", tpath)
	waitPort(t, port, 30*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{lp(port)}})
	awaitOrFail(t, s, 90*time.Second)
	samePayload(t, mi, seedDir, dir)
}

// TestInteropSwarm: one Effusion seeder, three Effusion leechers and one
// libtorrent leecher, started together, meeting through opentracker.
func TestInteropSwarm(t *testing.T) {
	script := needLibtorrent(t)
	seedDir := t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 4<<20+3)
	ltDir := t.TempDir()
	lt := startProc(t, ltDir, python, script, "leech", tpath, ltDir, strconv.Itoa(freePort(t)), "--max-seconds", "90")
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	var leechers []*Session
	var dirs []string
	for range 3 {
		d := t.TempDir()
		dirs = append(dirs, d)
		leechers = append(leechers, startSession(t, Config{Torrent: mi, Dir: d, Seed: true}))
	}
	for i, l := range leechers {
		awaitOrFail(t, l, 90*time.Second)
		samePayload(t, mi, seedDir, dirs[i])
	}
	lt.wait(t, 100*time.Second)
	samePayload(t, mi, seedDir, ltDir)
	_ = seeder
}

// TestInteropMultiFilePadding: a multi-file torrent with BEP 47 pad files
// made by libtorrent, seeded by libtorrent, fetched by Effusion with the
// peer given directly (no tracker). Pad files are never written.
func TestInteropMultiFilePadding(t *testing.T) {
	script := needLibtorrent(t)
	seedDir, dir := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(seedDir, "album", "a.bin"), randomData(11, 300000))
	writeFile(t, filepath.Join(seedDir, "album", "c.txt"), []byte("tiny"))
	writeFile(t, filepath.Join(seedDir, "album", "sub", "b.bin"), randomData(12, 1<<20+17))
	writeFile(t, filepath.Join(seedDir, "album", "sub", "empty"), nil)
	tpath := filepath.Join(t.TempDir(), "album.torrent")
	if out, err := exec.Command(python, script, "create", filepath.Join(seedDir, "album"), tpath, "65536").CombinedOutput(); err != nil {
		t.Fatalf("creating the torrent: %v\n%s", err, out)
	}
	mi, err := metainfo.Load(tpath)
	if err != nil {
		t.Fatal(err)
	}
	pads := 0
	for _, f := range mi.Info.Files {
		if f.Padding {
			pads++
		}
	}
	if pads == 0 {
		t.Fatal("libtorrent made no pad files; the test would prove nothing")
	}
	port := freePort(t)
	seeder := startProc(t, seedDir, python, script, "seed", tpath, seedDir, strconv.Itoa(port))
	seeder.waitLine(t, "READY", 30*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{lp(port)}})
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
	if _, err := os.Stat(filepath.Join(dir, "album", ".pad")); !os.IsNotExist(err) {
		t.Fatalf("pad files were written: %v", err)
	}
}

// TestInteropSwarmNoTracker: the swarm again without any tracker: every
// leecher is given the seeder's address.
func TestInteropSwarmNoTracker(t *testing.T) {
	script := needLibtorrent(t)
	seedDir := t.TempDir()
	data := randomData(21, 3<<20+11)
	mi, tb := makeTorrent(t, seedDir, "payload.bin", 64<<10, "", testFile{data: data})
	tpath := filepath.Join(t.TempDir(), "p.torrent")
	writeFile(t, tpath, tb)
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	ltDir := t.TempDir()
	lt := startProc(t, ltDir, python, script, "leech", tpath, ltDir, strconv.Itoa(freePort(t)),
		"--peer", loopback(seeder).String(), "--max-seconds", "60")
	var leechers []*Session
	var dirs []string
	for range 2 {
		d := t.TempDir()
		dirs = append(dirs, d)
		leechers = append(leechers, startSession(t, Config{Torrent: mi, Dir: d, Seed: true, Peers: []netip.AddrPort{loopback(seeder)}}))
	}
	for i, l := range leechers {
		awaitOrFail(t, l, 60*time.Second)
		samePayload(t, mi, seedDir, dirs[i])
	}
	lt.wait(t, 70*time.Second)
	samePayload(t, mi, seedDir, ltDir)
}

var _ = context.Background
