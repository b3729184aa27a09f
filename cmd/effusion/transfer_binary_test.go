package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/session"
)

// TestDownloadBinaryKillAndInterrupt runs the real binary: a download
// killed with SIGKILL keeps every piece it had reported verified; one
// interrupted with SIGINT stops cleanly (exit 1, "interrupted") and keeps
// its pieces too; a third run completes.
func TestDownloadBinaryKillAndInterrupt(t *testing.T) {
	bin := effusionBin(t)
	tpath, data, seeder, mi := transferFixture(t, 4<<20)
	dir := t.TempDir()
	args := []string{"download", tpath, "-o", dir, "--port", "0", "--no-dht", "--no-lsd", "--peer", seederAddr(seeder), "--json", "--download-rate", "1M"}

	// run starts a download and stops it with sig once it reports at least
	// min verified pieces; it returns the last count it reported and the
	// process's exit error.
	run := func(sig syscall.Signal, min int) (int, error) {
		cmd := exec.Command(bin, args...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		have := 0
		timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		defer timer.Stop()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var st jsonStats
			if json.Unmarshal(sc.Bytes(), &st) == nil {
				have = st.PiecesHave
			}
			if have >= min {
				cmd.Process.Signal(sig)
				break
			}
		}
		go func() {
			for sc.Scan() {
			}
		}()
		err = cmd.Wait()
		if have < min {
			t.Fatalf("the download never reported %d verified pieces (last %d)\n%s", min, have, stderr.String())
		}
		return have, err
	}
	checked := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := session.Start(ctx, session.Config{Torrent: mi, Dir: dir, ListenAddr: "127.0.0.1:0", Seed: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Stop(ctx)
		have, _, err := s.Checked(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return have
	}

	killedAt, _ := run(syscall.SIGKILL, 8)
	if got := checked(); got < killedAt {
		t.Fatalf("after kill -9: %d pieces verify on disk, the download had reported %d", got, killedAt)
	}
	n := checked()
	stoppedAt, err := run(syscall.SIGINT, n+8)
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("interrupted download: %v, want exit status 1", err)
	}
	if got := checked(); got < stoppedAt {
		t.Fatalf("after Ctrl-C: %d pieces verify on disk, the download had reported %d", got, stoppedAt)
	}
	args = args[:len(args)-2] // no rate limit
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "payload.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("payload differs after the final run (err %v)", err)
	}
}
