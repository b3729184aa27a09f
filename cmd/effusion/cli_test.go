package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/metainfo"
)

// runBin runs the real binary and returns stdout, stderr and the exit
// status (bounded in time: none of these commands should start work).
func runBin(t *testing.T, attr *syscall.SysProcAttr, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, effusionBin(t), args...)
	cmd.SysProcAttr = attr
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), stderr.String(), 0
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	}
	t.Fatalf("%q: %v", args, err)
	return "", "", -1
}

// smallTorrent writes a valid one-file torrent and returns its path.
func smallTorrent(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "payload.bin")
	if err := os.WriteFile(src, bytes.Repeat([]byte{7}, 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, raw, err := metainfo.Build(t.Context(), src, metainfo.BuildOptions{PieceLength: 16 << 10, NoDate: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "small.torrent")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCLIBadInputExits2 runs the real binary on bad command lines and bad
// files: each exits with status 2 before starting any work and prints one
// line naming what is wrong.
func TestCLIBadInputExits2(t *testing.T) {
	dir := t.TempDir()
	tor := smallTorrent(t, dir)
	bad := filepath.Join(dir, "bad.torrent")
	formatsWriteFile(t, bad, []byte("d4:infod6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces39:"+strings.Repeat("h", 39)+"ee"))
	big := filepath.Join(dir, "big.iso") // sparse: 2 GiB that Load must refuse by its size
	if f, err := os.Create(big); err != nil || f.Truncate(2<<30) != nil || f.Close() != nil {
		t.Fatal("cannot make the sparse file")
	}
	notDir := filepath.Join(dir, "plain")
	formatsWriteFile(t, notDir, []byte("x"))
	out := filepath.Join(dir, "new.torrent")
	isDir := "effusion: " + dir + ": is a directory, not a .torrent file"
	badLine := "effusion: " + bad + ": info.pieces: length 39 is not a multiple of 20"
	bigLine := "effusion: " + big + ": 2147483648 bytes: larger than a .torrent may be (64 MiB)"
	dl := func(extra ...string) []string {
		return append([]string{"download", tor, "-o", filepath.Join(dir, "dl"), "--port", "0"}, extra...)
	}

	for _, c := range []struct {
		args []string
		want string // stderr is one line starting with this (usage errors end with the usage line)
	}{
		// Usage errors: cobra's, wrapped.
		{[]string{"frobnicate"}, `effusion: unknown command "frobnicate" for "effusion"`},
		{dl("--bogus"), "effusion: unknown flag: --bogus"},
		{[]string{"info"}, "effusion: accepts 1 arg(s), received 0 (usage: effusion info FILE.torrent|MAGNET [flags])"},
		{[]string{"frob"}, `effusion: unknown command "frob" for "effusion" (usage: effusion COMMAND)`},
		{[]string{"info", tor, tor}, "effusion: accepts 1 arg(s), received 2"},
		{[]string{"create"}, "effusion: accepts 1 arg(s), received 0"},
		{[]string{"tracker", "extra"}, `effusion: unknown command "extra" for "effusion tracker"`},
		{dl("--port", "abc"), `effusion: --port "abc": not an integer`},
		{dl("--transport", "quic"), `effusion: --transport "quic": not a valid tcp|utp|both`},
		{dl("--dht-bootstrap", "router"), `effusion: --dht-bootstrap "router": address router: missing port in address`},
		{dl("--dht-bootstrap", "127.0.0.1:0"), `effusion: --dht-bootstrap "127.0.0.1:0": bad port "0"`},
		{dl("--dht-bootstrap", ":6881"), `effusion: --dht-bootstrap ":6881": no host`},
		{dl("--no-dht", "--dht-bootstrap", "127.0.0.1:1"), `effusion: --dht-bootstrap with --no-dht`},
		{[]string{"tracker", "--interval", "soon"}, `effusion: --interval "soon": not a duration (such as 90s, 30m or 1h)`},
		{[]string{"download", tor, "-o"}, "effusion: flag needs an argument: 'o' in -o"},
		// Bad values.
		{dl("--port", "70000"), "effusion: --port 70000: not a port"},
		{dl("--peer", "127.0.0.1:0"), `effusion: --peer "127.0.0.1:0": port 0 is not a port to connect to`},
		{dl("--peer", "0.0.0.0:6881"), `effusion: --peer "0.0.0.0:6881": 0.0.0.0 is not an address to connect to`},
		{dl("--max-peers", "-5"), "effusion: --max-peers -5: must be at least 1"},
		{dl("--max-peers", "0"), "effusion: --max-peers 0: must be at least 1"},
		{dl("--download-rate", "5x"), `effusion: --download-rate: "5x": not a size`},
		{dl("--upload-rate", "2T"), `effusion: --upload-rate: "2T": more than 1 TiB/s`},
		{[]string{"seed", tor, "-d", dir, "--max-peers", "-1"}, "effusion: --max-peers -1: must be at least 1"},
		{[]string{"create", tor, "-o", out, "--tracker", "ftp://x"}, `effusion: --tracker "ftp://x": scheme "ftp" not allowed (http, https and udp trackers only)`},
		{[]string{"create", tor, "-o", out, "--tracker", "http://a/announce,udp://b"}, `effusion: --tracker "udp://b": udp tracker without port (http, https and udp trackers only)`},
		{[]string{"create", tor, "-o", out, "--web-seed", "ftp://x/"}, `effusion: --web-seed "ftp://x/": not an http or https URL`},
		{[]string{"create", tor, "-o", out, "--piece-length", "0.1k"}, `effusion: --piece-length: "0.1k": not a size: not a whole number of bytes`},
		{[]string{"swarm", "--size", "lots"}, `effusion: --size: "lots": not a size`},
		{[]string{"swarm", "--size", "2TiB"}, "effusion: --size 2TiB: more than the 1 TiB a demo swarm may move"},
		{[]string{"tracker", "--max-torrents", "0"}, "effusion: --max-torrents 0: must be at least 1"},
		{[]string{"tracker", "--max-torrents-per-ip", "-1"}, "effusion: --max-torrents-per-ip -1: must be at least 1"},
		{[]string{"tracker", "--listen", ""}, "effusion: nothing to listen on: give --listen or --udp"},
		{[]string{"tracker", "--allow", filepath.Join(dir, "none")}, "effusion: --allow: open " + filepath.Join(dir, "none") + ": no such file or directory"},
		{[]string{"tracker", "--allow", tor}, "effusion: --allow: " + tor + ": bad allow-list: line 1: want 40 hexadecimal digits, got "},
		// Bad files, named.
		{[]string{"info", dir}, isDir},
		{[]string{"download", dir}, isDir},
		{[]string{"seed", dir, "-d", dir}, isDir},
		{[]string{"info", bad}, badLine},
		{[]string{"download", bad}, badLine},
		{[]string{"seed", bad, "-d", dir}, badLine},
		{[]string{"info", big}, bigLine},
		{[]string{"download", big}, bigLine},
		{[]string{"download", filepath.Join(dir, "none.torrent")}, "effusion: " + filepath.Join(dir, "none.torrent") + ": no such file or directory"},
		{[]string{"download", tor, "-o", filepath.Join(notDir, "sub")}, "effusion: " + filepath.Join(notDir, "sub") + ": not a directory"},
	} {
		stdout, stderr, code := runBin(t, nil, c.args...)
		if code != 2 || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want 2 and the one line %q", c.args, code, stdout, stderr, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused create wrote its torrent")
	}
}

// TestSwarmSizeBoundedByDisk: swarm refuses a payload whose copies do not
// fit on the disk under --dir, saying how much is needed and free.
func TestSwarmSizeBoundedByDisk(t *testing.T) {
	dir := t.TempDir()
	free, _, ok := freeSpace(dir)
	if !ok {
		t.Skip("free space unknown on this system")
	}
	size := int64(900 << 30)
	if need := size * 65; uint64(need) <= free {
		t.Skipf("%s free: the disk holds even 64 copies of 900 GiB", units.Format(int64(free)))
	}
	_, stderr, code := runBin(t, nil, "swarm", "--size", "900GiB", "--leechers", "64", "--dir", filepath.Join(dir, "w"))
	want := fmt.Sprintf("effusion: --size 900 GiB: the payload and 64 copies need 57.1 TiB, and %s has ", dir)
	if code != 2 || !strings.HasPrefix(stderr, want) || !strings.HasSuffix(stderr, " free\n") {
		t.Fatalf("status %d stderr %q, want 2 and %q...", code, stderr, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "w")); err == nil {
		t.Fatal("the refused swarm created its directory")
	}
}
