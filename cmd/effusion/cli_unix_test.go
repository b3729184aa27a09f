//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDownloadUnwritableDirRefused: a download directory the user cannot
// write to is refused before the download starts (status 2, one line),
// not at the first piece. Root writes anywhere, so as root the binary runs
// as nobody.
func TestDownloadUnwritableDirRefused(t *testing.T) {
	base := t.TempDir()
	tor := smallTorrent(t, base)
	ro := filepath.Join(base, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	var attr *syscall.SysProcAttr
	if os.Getuid() == 0 {
		// nobody must reach the binary, the torrent and the directory.
		for _, d := range []string{binDir, filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	_, stderr, code := runBin(t, attr, "download", tor, "-o", ro, "--port", "0", "--peer", "127.0.0.1:9")
	want := "effusion: " + ro + ": cannot write there: permission denied\n"
	if code != 2 || stderr != want {
		t.Fatalf("status %d stderr %q, want 2 and %q", code, stderr, want)
	}
}
