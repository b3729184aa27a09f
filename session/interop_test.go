package session

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
)

// Interoperability tests against real clients on loopback. A missing binary
// skips the test, except under CI=true, where it fails (testpeer.Missing).

// needLibtorrent returns the python that imports libtorrent and the path of
// the libtorrent peer script.
func needLibtorrent(t *testing.T) (python, script string) {
	t.Helper()
	return testpeer.Libtorrent(t)
}

// trackedTorrent writes a payload under seedDir, starts opentracker for it
// and returns the torrent (announcing to it) and its file.
func trackedTorrent(t *testing.T, seedDir string, size int) (*metainfo.MetaInfo, string) {
	t.Helper()
	data := randomData(uint64(size), size)
	mi, _ := makeTorrent(t, t.TempDir(), "payload.bin", 64<<10, "", testFile{data: data})
	url, _ := testpeer.StartOpentracker(t, mi.InfoHash)
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
	python, script := needLibtorrent(t)
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+777)
	seeder := testpeer.Start(t, seedDir, python, script, "seed", tpath, seedDir, strconv.Itoa(testpeer.FreePort(t)))
	seeder.WaitLine(t, "READY", 30*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir})
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
}

func TestInteropSeedToLibtorrent(t *testing.T) {
	python, script := needLibtorrent(t)
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+1)
	s := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, s, 10*time.Second)
	leech := testpeer.Start(t, dir, python, script, "leech", tpath, dir, strconv.Itoa(testpeer.FreePort(t)), "--max-seconds", "60")
	leech.Wait(t, 70*time.Second)
	samePayload(t, mi, seedDir, dir)
	if st := s.Stats(); st.Uploaded < mi.Info.TotalLength() {
		t.Fatalf("seeder uploaded %d bytes, want at least %d", st.Uploaded, mi.Info.TotalLength())
	}
}

// aria2Args are the options that make aria2c a plain loopback BitTorrent
// peer that re-announces every second (it then learns of peers that joined
// the tracker after it).
func aria2Args(port int) []string {
	return append(testpeer.Aria2Args(port), "--bt-tracker-interval=1")
}

func TestInteropDownloadFromAria2(t *testing.T) {
	bin := testpeer.Require(t, "aria2c")
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+4321)
	port := testpeer.FreePort(t)
	args := append(aria2Args(port), "--seed-ratio=0.0", "--check-integrity=true", "--dir="+seedDir, tpath)
	seeder := testpeer.Start(t, seedDir, bin, args...)
	seeder.WaitPort(t, port, 30*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{lp(port)}})
	awaitOrFail(t, s, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
}

func TestInteropSeedToAria2(t *testing.T) {
	bin := testpeer.Require(t, "aria2c")
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 3<<20+99)
	s := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, s, 10*time.Second)
	args := append(aria2Args(testpeer.FreePort(t)), "--seed-time=0", "--dir="+dir, tpath)
	leech := testpeer.Start(t, dir, bin, args...)
	leech.Wait(t, 60*time.Second)
	samePayload(t, mi, seedDir, dir)
}

func TestInteropDownloadFromTransmission(t *testing.T) {
	bin := testpeer.Require(t, "transmission-cli")
	seedDir, dir := t.TempDir(), t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 2<<20+5)
	port := testpeer.FreePort(t)
	// Transmission ignores 127/8 peers from trackers: we dial it.
	seeder := testpeer.Start(t, seedDir, bin, "-g", filepath.Join(t.TempDir(), "cfg"), "-w", seedDir,
		"-p", strconv.Itoa(port), "-D", "-U", "-M", "-et", tpath)
	seeder.WaitPort(t, port, 30*time.Second)
	s := startSession(t, Config{Torrent: mi, Dir: dir, Peers: []netip.AddrPort{lp(port)}})
	awaitOrFail(t, s, 90*time.Second)
	samePayload(t, mi, seedDir, dir)
}

// TestInteropSwarm: one Effusion seeder, three Effusion leechers and one
// libtorrent leecher, started together, meeting through opentracker.
func TestInteropSwarm(t *testing.T) {
	python, script := needLibtorrent(t)
	seedDir := t.TempDir()
	mi, tpath := trackedTorrent(t, seedDir, 4<<20+3)
	ltDir := t.TempDir()
	lt := testpeer.Start(t, ltDir, python, script, "leech", tpath, ltDir, strconv.Itoa(testpeer.FreePort(t)), "--max-seconds", "90")
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
	lt.Wait(t, 100*time.Second)
	samePayload(t, mi, seedDir, ltDir)
	_ = seeder
}

// TestInteropMultiFilePadding: a multi-file torrent with BEP 47 pad files
// made by libtorrent, seeded by libtorrent, fetched by Effusion with the
// peer given directly (no tracker). Pad files are never written.
func TestInteropMultiFilePadding(t *testing.T) {
	python, script := needLibtorrent(t)
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
	port := testpeer.FreePort(t)
	seeder := testpeer.Start(t, seedDir, python, script, "seed", tpath, seedDir, strconv.Itoa(port))
	seeder.WaitLine(t, "READY", 30*time.Second)
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
	python, script := needLibtorrent(t)
	seedDir := t.TempDir()
	data := randomData(21, 3<<20+11)
	mi, tb := makeTorrent(t, seedDir, "payload.bin", 64<<10, "", testFile{data: data})
	tpath := filepath.Join(t.TempDir(), "p.torrent")
	writeFile(t, tpath, tb)
	seeder := startSession(t, Config{Torrent: mi, Dir: seedDir, Seed: true})
	awaitOrFail(t, seeder, 10*time.Second)
	ltDir := t.TempDir()
	lt := testpeer.Start(t, ltDir, python, script, "leech", tpath, ltDir, strconv.Itoa(testpeer.FreePort(t)),
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
	lt.Wait(t, 70*time.Second)
	samePayload(t, mi, seedDir, ltDir)
}
