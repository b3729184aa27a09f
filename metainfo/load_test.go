package metainfo

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Load refuses a directory and a file over MaxTorrentSize from their
// metadata, before reading: a sparse 2 GiB file costs no memory.
func TestLoadChecksBeforeReading(t *testing.T) {
	dir := t.TempDir()
	var fe *FieldError
	if _, err := Load(dir); !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) || err.Error() != "is a directory, not a .torrent file" {
		t.Fatalf("directory: %v", err)
	}
	big := filepath.Join(dir, "big.iso")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Load(big)
	runtime.ReadMemStats(&after)
	if !errors.As(err, &fe) || !errors.Is(err, ErrLimit) || err.Error() != "2147483648 bytes: larger than a .torrent may be (64 MiB)" {
		t.Fatalf("2 GiB file: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("refusing a 2 GiB file allocated %d bytes", got)
	}
	// Just over the limit, also refused by size.
	if err := os.Truncate(big, MaxTorrentSize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); !errors.Is(err, ErrLimit) {
		t.Fatalf("limit+1: %v", err)
	}
}
