package client

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// directFDs counts this process's open files under root whose flags (from
// /proc/self/fdinfo) include O_DIRECT.
func directFDs(t *testing.T, root string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(target, root+string(filepath.Separator)) {
			continue
		}
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(info)) {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
				if err == nil && flags&syscall.O_DIRECT != 0 {
					n++
				}
			}
		}
	}
	return n
}

// TestBufferedWritesConfig: by default a download writes its aligned
// pieces through an O_DIRECT handle of the file (seen in the process's
// fdinfo while it seeds); Config.BufferedWrites opens none. Both are byte
// for byte.
func TestBufferedWritesConfig(t *testing.T) {
	fx := newFixture(t, 1<<20) // 32 pieces of 32 KiB: every one aligned
	sd := seeder(t, fx)
	for _, buffered := range []bool{false, true} {
		dl := t.TempDir()
		if f, err := os.OpenFile(filepath.Join(dl, "probe"), os.O_CREATE|os.O_WRONLY|syscall.O_DIRECT, 0o644); err != nil {
			t.Skipf("this file system refuses O_DIRECT: %v", err)
		} else {
			f.Close()
		}
		c, err := New(context.Background(), Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: quiet(),
			CheckpointInterval: 100 * time.Millisecond, BufferedWrites: buffered})
		if err != nil {
			t.Fatal(err)
		}
		tt, err := c.Add(context.Background(), Spec{Torrent: fx.mi, Dir: dl})
		if err != nil {
			t.Fatal(err)
		}
		tt.AddPeers(sd.Addr())
		await(t, tt)
		direct := directFDs(t, filepath.Join(dl, "payload"))
		if err := c.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		sameFiles(t, fx, dl)
		switch {
		case buffered && direct > 0:
			t.Fatalf("BufferedWrites: %d O_DIRECT handles open", direct)
		case !buffered && direct == 0:
			t.Fatal("default: no O_DIRECT handle open after the download")
		}
	}
}
