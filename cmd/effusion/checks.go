package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"strings"

	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/metainfo"
)

// The checks every command makes on its input before it starts work, so
// that bad input is refused at once with status 2 and one line naming it.

// loadTorrent loads the .torrent at path for info, download and seed. Its
// errors name the file; a file that is not a usable torrent (malformed,
// missing, unreadable, a directory, over the size limit) is bad input.
func loadTorrent(path string) (*metainfo.MetaInfo, error) {
	m, err := metainfo.Load(path)
	if err == nil {
		return m, nil
	}
	err = fmt.Errorf("%s: %w", path, unwrapPathErr(err))
	var fe *metainfo.FieldError
	if errors.As(err, &fe) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return nil, badInput(err)
	}
	return nil, err
}

// checkWritableDir creates dir if it is missing and makes sure a file can
// be created in it, so that a download into a read-only or full place
// fails at once rather than at its first piece.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", dir, unwrapPathErr(err))
	}
	f, err := os.CreateTemp(dir, ".effusion-write-check-*")
	if err != nil {
		return fmt.Errorf("%s: cannot write there: %w", dir, unwrapPathErr(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// checkPeerAddr refuses a --peer address no peer can listen on.
func checkPeerAddr(ap netip.AddrPort) error {
	switch a := ap.Addr().Unmap(); {
	case ap.Port() == 0:
		return errors.New("port 0 is not a port to connect to")
	case a.IsUnspecified():
		return fmt.Errorf("%v is not an address to connect to", a)
	case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%v is a broadcast or multicast address", a)
	}
	return nil
}

// maxRate bounds --download-rate and --upload-rate (1 TiB/s).
const maxRate = 1 << 40

// parseRate reads a rate in bytes per second: a size (see units.Parse)
// with an optional "/s", such as "500k", "10MiB/s" or "1.5G"; "" and "0"
// mean unlimited.
func parseRate(s string) (int, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	v, err := units.Parse(strings.TrimSuffix(t, "/s"))
	if err != nil {
		return 0, err
	}
	if v > maxRate || v > math.MaxInt {
		return 0, fmt.Errorf("%q: more than %s/s", s, units.Format(maxRate))
	}
	return int(v), nil
}
