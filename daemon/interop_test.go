package daemon

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/internal/testpeer"
)

// hostPort is the daemon's address as transmission-remote takes it.
func (h *harness) hostPort() string {
	u, _ := url.Parse(h.url)
	return u.Host
}

// remote runs transmission-remote against the daemon and returns its
// output (stdout and stderr).
func remote(t *testing.T, bin string, h *harness, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{h.hostPort()}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // it keeps nothing, but be sure
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Error") {
		t.Fatalf("transmission-remote %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func mustContain(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: output lacks %q:\n%s", what, w, out)
		}
	}
}

// listRow returns the -l row of torrent id, split in columns.
func listRow(out string, id string) []string {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.TrimSuffix(f[0], "*") == id {
			return f
		}
	}
	return nil
}

// TestInteropTransmissionRemote drives the daemon with Debian's
// transmission-remote (transmission-cli 3.00): add a file and a magnet,
// list, stop, start, skip a file, files, info, session info and stats,
// remove; each output checked.
func TestInteropTransmissionRemote(t *testing.T) {
	bin := testpeer.Require(t, "transmission-remote")
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 100_000, 60_000) // no seeder: it stays downloading
	seeded := newFixture(t, 16<<10, nil, 50_000)

	out := remote(t, bin, h, "-a", fx.path)
	mustContain(t, "-a FILE", out, `responded: "success"`)
	out = remote(t, bin, h, "-w", seeded.dir, "-a", seeded.path)
	mustContain(t, "-a FILE -w DIR", out, `responded: "success"`)
	out = remote(t, bin, h, "-a", seeded.mi.Magnet().String())
	mustContain(t, "-a MAGNET of a torrent it has", out, `responded: "success"`)
	out = remote(t, bin, h, "-a", "magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=wanted")
	mustContain(t, "-a MAGNET", out, `responded: "success"`)
	if n := len(h.c.Torrents()); n != 3 {
		t.Fatalf("%d torrents after the adds", n)
	}

	waitFor(t, 10*time.Second, "torrent 2 seeding", func() bool {
		return h.d.reg.byIDs(2).t.Stats().State == client.Seeding
	})
	out = remote(t, bin, h, "-l")
	r1, r2 := listRow(out, "1"), listRow(out, "2")
	if r1 == nil || r1[1] != "0%" || r1[len(r1)-1] != "payload" || r2 == nil || r2[1] != "100%" || r2[len(r2)-1] != "payload.bin" {
		t.Fatalf("-l:\n%s", out)
	}
	mustContain(t, "-l", out, "Sum:", "Idle")
	if r3 := listRow(out, "3"); r3 == nil || r3[len(r3)-1] != "wanted" { // the magnet, fetching its metadata
		t.Fatalf("-l, the magnet:\n%s", out)
	}

	out = remote(t, bin, h, "-t", "2", "-S")
	mustContain(t, "-t 2 -S", out, `responded: "success"`)
	if r := listRow(remote(t, bin, h, "-l"), "2"); r == nil || r[len(r)-2] != "Stopped" {
		t.Fatalf("-l after -S: %v", r)
	}
	out = remote(t, bin, h, "-t", "2", "-s")
	mustContain(t, "-t 2 -s", out, `responded: "success"`)
	waitFor(t, 10*time.Second, "torrent 2 started", func() bool {
		r := listRow(remote(t, bin, h, "-l"), "2")
		return r != nil && r[len(r)-2] != "Stopped"
	})

	out = remote(t, bin, h, "-t", "1", "-f")
	mustContain(t, "-t 1 -f", out, "payload (2 files)", "payload/a.bin", "payload/b.bin")
	if strings.Count(out, " Yes ") != 2 {
		t.Fatalf("-f before -G:\n%s", out)
	}
	out = remote(t, bin, h, "-t", "1", "-G", "0")
	mustContain(t, "-t 1 -G 0", out, `responded: "success"`)
	out = remote(t, bin, h, "-t", "1", "-f")
	if !regexp.MustCompile(`0: +0% +Normal +No .*payload/a\.bin`).MatchString(out) || strings.Count(out, " Yes ") != 1 {
		t.Fatalf("-f after -G 0:\n%s", out)
	}
	if f := h.d.reg.byIDs(1).t.Files(); f[0].Priority != client.Skip {
		t.Fatalf("the client's file 0: %+v", f[0])
	}

	out = remote(t, bin, h, "-t", "2", "-i")
	mustContain(t, "-t 2 -i", out, "Name: payload.bin", "Hash: "+seeded.mi.InfoHashHex(), "Percent Done: 100%", "Location: "+seeded.dir)
	out = remote(t, bin, h, "-t", "2", "-pi")
	mustContain(t, "-t 2 -pi", out, "Address", "Client")
	remote(t, bin, h, "-t", "2", "-it")
	out = remote(t, bin, h, "-si")
	// -w set the session's download directory (that is what it does).
	mustContain(t, "-si", out, "RPC version: 16", "Download directory: "+seeded.dir)
	out = remote(t, bin, h, "-st")
	mustContain(t, "-st", out, "CURRENT SESSION", "TOTAL", "Started 1 times")

	out = remote(t, bin, h, "-t", "1", "-r")
	mustContain(t, "-t 1 -r", out, `responded: "success"`)
	out = remote(t, bin, h, "-l")
	if listRow(out, "1") != nil || listRow(out, "2") == nil {
		t.Fatalf("-l after -t 1 -r:\n%s", out)
	}
}

// pyScript drives the daemon with Debian's python3-transmissionrpc: add
// (a local path, then base64 data), list, stop, start, remove.
const pyScript = `
import base64, sys, transmissionrpc
port, path, path2 = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = transmissionrpc.Client('127.0.0.1', port=port)
print('rpc', c.rpc_version)
t = c.add_torrent(path)
print('added', t.id)
with open(path2, 'rb') as f:
    t2 = c.add_torrent(base64.b64encode(f.read()).decode(), paused=True)
print('added', t2.id)
print('list', sorted((x.id, x.name, x.status) for x in c.get_torrents()))
c.stop_torrent(t.id)
print('stopped', c.get_torrent(t.id).status)
c.start_torrent(t.id)
print('started', c.get_torrent(t.id).status)
print('files', sorted((k, v['name'], v['selected']) for k, v in c.get_files(t.id)[t.id].items()))
c.remove_torrent([t.id, t2.id])
print('left', len(c.get_torrents()))
`

// TestInteropPythonTransmissionRPC: Debian's python3-transmissionrpc.
func TestInteropPythonTransmissionRPC(t *testing.T) {
	py := testpeer.PythonPath
	if out, err := exec.Command(py, "-c", "import transmissionrpc").CombinedOutput(); err != nil {
		testpeer.Missing(t, "python3-transmissionrpc", &exec.Error{Name: string(out), Err: err})
	}
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 30_000)
	fx2 := newFixture(t, 16<<10, nil, 20_000, 10_000)
	script := filepath.Join(t.TempDir(), "client.py")
	os.WriteFile(script, []byte(pyScript), 0o644)
	out, err := exec.Command(py, script, strings.Split(h.hostPort(), ":")[1], fx.path, fx2.path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	mustContain(t, "python3-transmissionrpc", string(out),
		"rpc 16", "added 1", "added 2",
		"list [(1, 'payload.bin', ", "(2, 'payload', 'stopped')]",
		"stopped stopped", "files [(0, 'payload.bin', True)]", "left 0")
	if !regexp.MustCompile(`started (downloading|seeding|checking)`).Match(out) {
		t.Fatalf("after start_torrent:\n%s", out)
	}
}

// TestInteropCtrlTransmission: npm @ctrl/transmission 7.4.0, as media
// managers use it (internal/testpeer/js/transmission_client.mjs):
// getAllData, addTorrent, pause, resume, remove.
func TestInteropCtrlTransmission(t *testing.T) {
	node, script := testpeer.NPM(t, "@ctrl/transmission", "transmission_client.mjs")
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 30_000)
	out, err := exec.Command(node, script, strings.Split(h.hostPort(), ":")[1], fx.path, fx.dir).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	mustContain(t, "@ctrl/transmission", string(out), "added "+fx.mi.InfoHashHex(), "paused paused", "left 0")
	var all [][]any
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, "all "); ok {
			json.Unmarshal([]byte(rest), &all)
		}
	}
	if len(all) != 1 || all[0][0] != fx.mi.InfoHashHex() || all[0][1] != "payload.bin" || all[0][3] != fx.dir || all[0][4] != 30_000.0 {
		t.Fatalf("getAllData: %v\n%s", all, out)
	}
	if !regexp.MustCompile(`resumed (downloading|seeding|checking)`).Match(out) {
		t.Fatalf("after resume:\n%s", out)
	}
}
