package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// TestDownloadDiskFullReportedOnce downloads 4 MiB into a 1 MiB tmpfs
// (mounted in a private mount namespace): the download fails with status 1
// and the disk-full error appears once on stderr, as the last line.
func TestDownloadDiskFullReportedOnce(t *testing.T) {
	bin := effusionBin(t)
	unshare := testpeer.Require(t, "unshare")
	ns := []string{"--mount"}
	if os.Getuid() != 0 {
		ns = append(ns, "--map-root-user")
	}
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// The shell mounts the tmpfs over dir, visible only to the download.
	const script = `mount -t tmpfs -o size=1m tmpfs "$1" || exit 99; shift; exec "$@"`
	probe := exec.Command(unshare, append(ns, "sh", "-c", script, "sh", dir, "true")...)
	if out, err := probe.CombinedOutput(); err != nil {
		testpeer.Missing(t, "a tmpfs in a private mount namespace", errors.New(strings.TrimSpace(string(out))+": "+err.Error()))
	}
	tpath, _, seeder, _ := transferFixture(t, 4<<20)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, append(ns, "sh", "-c", script, "sh", dir,
		bin, "download", tpath, "-o", dir, "--port", "0", "--no-dht", "--no-lsd", "--peer", seederAddr(seeder))...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want status 1\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	if n := strings.Count(stderr.String(), "no space left on device"); n != 1 ||
		!strings.HasPrefix(last, "effusion: ") || !strings.HasSuffix(last, filepath.Join(dir, "payload.bin")+": no space left on device") {
		t.Fatalf("the disk-full error is printed %d times, want once as the last line naming the file:\n%s", n, stderr.String())
	}
}
