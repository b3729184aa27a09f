package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// TestRealClientsFindEachOther: a libtorrent seeder, a libtorrent leecher and
// an aria2 leecher announce to our tracker, appear in its peer store, learn of
// each other from it and complete the download (there is no other way for
// them to meet: no DHT, LSD or PEX).
func TestRealClientsFindEachOther(t *testing.T) {
	python := testpeer.Python(t)
	aria2 := testpeer.Require(t, "aria2c")
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

	seedPort, ltPort, ariaPort := testpeer.FreePort(t), testpeer.FreePort(t), testpeer.FreePort(t)
	seed := testpeer.Start(t, "", python, script, "seed", tfile, seedDir, strconv.Itoa(seedPort), "60")
	ltDir, ariaDir := filepath.Join(dir, "lt"), filepath.Join(dir, "aria2")
	os.MkdirAll(ltDir, 0o755)
	lt := testpeer.Start(t, "", python, script, "leech", tfile, ltDir, strconv.Itoa(ltPort), "60")
	aria := testpeer.Start(t, "", aria2, append(testpeer.Aria2Args(ariaPort),
		"--seed-time=0", "--bt-stop-timeout=60", "--dir="+ariaDir, tfile)...)

	// Both leechers must finish; the seeder keeps running.
	deadline := time.After(60 * time.Second)
	ltDone, ariaDone := lt.Done(), aria.Done()
	for ltDone != nil || ariaDone != nil {
		select {
		case <-ltDone:
			if err := lt.Err(); err != nil {
				t.Fatalf("libtorrent leecher: %v\n%s", err, lt.Output())
			}
			ltDone = nil
		case <-ariaDone:
			if err := aria.Err(); err != nil {
				t.Fatalf("aria2 leecher: %v\n%s", err, aria.Output())
			}
			ariaDone = nil
		case <-seed.Done():
			t.Fatalf("seeder exited: %v\n%s", seed.Err(), seed.Output())
		case <-deadline:
			t.Fatalf("timed out (lt done %v, aria2 done %v); store %+v\nlt: %s\naria2: %s\nseed: %s",
				ltDone == nil, ariaDone == nil, s.Peers(ih), lt.Output(), aria.Output(), seed.Output())
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
