package dht

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
)

// MaxSavedNodes caps the nodes saved and reloaded (a full routing table
// holds about 8 per bucket over some 20 populated buckets).
const MaxSavedNodes = 1000

// nodeRecordLen is one saved node: 20-byte id, 16-byte IP (IPv4 mapped),
// 2-byte port, the compact IPv6 node info of BEP 32 (the format
// anacrolix/dht's own nodes file uses).
const nodeRecordLen = 38

// NodeInfo is a DHT node: its id and UDP address.
type NodeInfo struct {
	ID   [20]byte
	Addr netip.AddrPort
}

// ErrNodesFormat is wrapped by DecodeNodes errors.
var ErrNodesFormat = errors.New("dht: malformed saved nodes")

// EncodeNodes encodes up to MaxSavedNodes nodes in the saved-nodes format
// (38 bytes each).
func EncodeNodes(nodes []NodeInfo) []byte {
	nodes = nodes[:min(len(nodes), MaxSavedNodes)]
	b := make([]byte, 0, len(nodes)*nodeRecordLen)
	for _, n := range nodes {
		b = append(b, n.ID[:]...)
		ip := n.Addr.Addr().As16()
		b = append(b, ip[:]...)
		b = binary.BigEndian.AppendUint16(b, n.Addr.Port())
	}
	return b
}

// DecodeNodes decodes saved nodes. Input that is not a whole number of
// records, or longer than MaxSavedNodes records, is an error wrapping
// ErrNodesFormat; records with a zero id, port 0 or an unusable address are
// skipped.
func DecodeNodes(b []byte) ([]NodeInfo, error) {
	if len(b)%nodeRecordLen != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte records", ErrNodesFormat, len(b), nodeRecordLen)
	}
	if len(b)/nodeRecordLen > MaxSavedNodes {
		return nil, fmt.Errorf("%w: %d records exceeds %d", ErrNodesFormat, len(b)/nodeRecordLen, MaxSavedNodes)
	}
	out := make([]NodeInfo, 0, len(b)/nodeRecordLen)
	for ; len(b) > 0; b = b[nodeRecordLen:] {
		var n NodeInfo
		copy(n.ID[:], b[:20])
		ip := netip.AddrFrom16([16]byte(b[20:36])).Unmap()
		n.Addr = netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[36:38]))
		if n.ID == ([20]byte{}) || !usableAddr(n.Addr, false) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

// NodeStore keeps the routing table's nodes across restarts. LoadNodes
// returns what SaveNodes last stored (nil, nil when there is nothing yet);
// both get and give the EncodeNodes format. A Node calls them from its own
// goroutines, one call at a time.
type NodeStore interface {
	LoadNodes() ([]byte, error)
	SaveNodes([]byte) error
}

// NodesFile is a NodeStore in a file (for example "dht.nodes" in the data
// directory). Saving writes a temporary file beside it and renames it over
// the old one, so a crash never leaves a torn file.
type NodesFile string

// LoadNodes reads the file; a missing file is no nodes and no error. A file
// larger than MaxSavedNodes records is an error.
func (f NodesFile) LoadNodes() ([]byte, error) {
	fh, err := os.Open(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	const limit = MaxSavedNodes * nodeRecordLen
	b, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrNodesFormat, string(f), limit)
	}
	return b, nil
}

// SaveNodes replaces the file's content with b.
func (f NodesFile) SaveNodes(b []byte) error {
	dir, name := filepath.Split(string(f))
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), string(f))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
