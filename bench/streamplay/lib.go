package streamplay

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// What the programs' in-process sources share.

// Completion records when a source's client had the whole file; a source
// that embeds it is a Completer.
type Completion struct {
	mu sync.Mutex
	at time.Time
}

// Mark records now as the completion time.
func (c *Completion) Mark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Now()
}

// Completed returns the time Mark recorded (zero: not complete).
func (c *Completion) Completed() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// DataDir returns the client's data directory: -data, or a new temporary
// one (named after prefix) that remove deletes; remove does nothing for
// -data's.
func DataDir(o Options, prefix string) (dir string, remove func() error, err error) {
	if o.DataDir != "" {
		return o.DataDir, func() error { return nil }, nil
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() error { return os.RemoveAll(d) }, nil
}

// ParsePeers reads -peers: "IP:PORT,IP:PORT".
func ParsePeers(spec string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, a := range strings.Split(spec, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(a)
		if err != nil || ap.Port() == 0 {
			return nil, fmt.Errorf("peer %q: want IP:PORT", a)
		}
		out = append(out, ap)
	}
	return out, nil
}
