package client

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/transport"
)

// Config configures a Client. The zero value of every field is a sensible
// default.
type Config struct {
	// DataDir holds the resume store and the DHT's saved nodes. Empty
	// means the platform's user data directory: $XDG_DATA_HOME/effusion or
	// ~/.local/share/effusion on Linux. A leading "~/" is the home
	// directory.
	DataDir string
	// DownloadDir is where torrents added without a Spec.Dir go. Empty
	// means the current directory.
	DownloadDir string
	// ListenAddr is the one TCP address every torrent accepts peers on.
	// Empty means ":6881".
	ListenAddr string
	// MaxPeers caps the connected peers of all the torrents together
	// (default 500); MaxPeersPerTorrent caps each torrent's (default 50).
	MaxPeers, MaxPeersPerTorrent int
	// MaxHalfOpen caps outgoing connections in progress (default 32).
	MaxHalfOpen int
	// Encryption is the Message Stream Encryption policy, both ways:
	// mse.Prefer (the zero value) tries MSE and falls back to plain,
	// accepting both; mse.Require never speaks plain; mse.Off never MSE.
	Encryption mse.Policy
	// DownloadRate and UploadRate cap the payload bytes per second of all
	// the torrents together; 0 means unlimited. Each torrent may have its
	// own limits on top (Spec).
	DownloadRate, UploadRate int
	// MaxOpenFiles caps the data files open at once across every torrent
	// (default 512; each torrent's own cache holds at most 64). Files in
	// use are never closed: a torrent that needs one waits for another to
	// be released.
	MaxOpenFiles int
	// BufferedWrites writes every piece through the page cache. By default
	// (Linux) pieces aligned to 4 KiB are written with O_DIRECT: a download
	// does not fill the page cache, and writing costs the same CPU however
	// full the machine's memory is. Set it for file systems where direct
	// I/O is slow, or to keep what was downloaded cached for seeding.
	BufferedWrites bool
	// MaxInflightBlocks caps the received 16 KiB blocks not yet verified
	// and written, across every torrent: most of a downloading client's
	// memory. The default, 768 (12 MiB), is raised up to 4,096 (64 MiB)
	// for torrents with large pieces; a value set here is a fixed cap.
	// Readers that find it spent wait up to 50 ms, then take a block
	// outside it (the garbage collector's), so it bends rather than stalls.
	MaxInflightBlocks int
	// CheckpointInterval is how often verified pieces are made durable
	// (files synced) and recorded in the resume store (default 10 s);
	// CheckpointBytes (default 64 MiB) makes a torrent's checkpoint come
	// sooner once it verified that much since its last one, so that a fast
	// download killed at any point has little to check again. The store is
	// written in full at Shutdown too.
	CheckpointInterval time.Duration
	CheckpointBytes    int64
	// NoAutoStart loads the torrents of the resume store without starting
	// them (they show as Paused, and their records are left as they are):
	// for a command that works on the torrents it names, starting those
	// with Add (a present torrent is returned with ErrExists) and Resume.
	NoAutoStart bool
	// ResetResume sets an unreadable resume store aside (renamed, never
	// deleted) and starts with an empty one. Downloaded data is kept.
	ResetResume bool
	// LazyShutdown makes Shutdown skip syncing the torrents that are
	// complete: their data is with the OS, which writes it back as for any
	// program (only a crash of the machine itself before then loses it),
	// while an fsync of a whole download costs up to a second per GiB.
	// Their resume records keep the last durable checkpoint, and the next
	// start checks what changed since. For a command that exits once its
	// downloads are done.
	LazyShutdown bool
	// Logger receives the client's logs; nil means slog.Default().
	Logger *slog.Logger

	// Transport is how peers are dialled: transport.Both (the zero value)
	// tries uTP first and falls back to TCP, as libtorrent does;
	// transport.TCP or transport.UTP only one. Incoming peers are accepted
	// on both: uTP listens on the UDP port of the same number as
	// ListenAddr's, which the DHT shares.
	Transport transport.Mode
	// NoDHT leaves the DHT (BEP 5) off. Otherwise one DHT node runs on the
	// uTP socket, its routing table saved in DataDir, and every torrent
	// that is not private (BEP 27) searches and announces itself on it.
	NoDHT bool
	// DHTBootstrap lists the HOST:PORT nodes the DHT starts from when it
	// has no saved nodes. nil means dht.DefaultBootstrap (the public
	// routers), except for a client listening on a loopback address only
	// and in a test binary, where nil means none, so that neither leaves
	// the machine by default; an empty list means none.
	DHTBootstrap []string
	// NoLSD leaves local service discovery (BEP 14 multicast) off. It is
	// always off for a client listening on a loopback address only, and in
	// a test binary: multicast leaves the machine.
	NoLSD bool

	// lsdInTests turns LSD on in a test binary (the package's own tests,
	// inside network namespaces), with these shorter intervals.
	lsdInTests          bool
	lsdInterval, lsdGap time.Duration
}

// Defaults of Config.
const (
	DefaultListenAddr         = ":6881"
	DefaultMaxPeers           = 500
	DefaultMaxPeersPerTorrent = 50
	DefaultCheckpointInterval = 10 * time.Second
	DefaultMaxOpenFiles       = 512
	DefaultCheckpointBytes    = 64 << 20
)

func (c Config) withDefaults() (Config, error) {
	var err error
	if c.DataDir, err = dataDir(c.DataDir); err != nil {
		return c, err
	}
	if c.DownloadDir == "" {
		c.DownloadDir = "."
	}
	if c.DownloadDir, err = expandHome(c.DownloadDir); err != nil {
		return c, err
	}
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.MaxPeersPerTorrent <= 0 {
		c.MaxPeersPerTorrent = DefaultMaxPeersPerTorrent
	}
	if c.MaxOpenFiles <= 0 {
		c.MaxOpenFiles = DefaultMaxOpenFiles
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.CheckpointBytes <= 0 {
		c.CheckpointBytes = DefaultCheckpointBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if testing.Testing() || loopbackOnly(c.ListenAddr) {
		if c.DHTBootstrap == nil {
			c.DHTBootstrap = []string{}
		}
		c.NoLSD = c.NoLSD || !c.lsdInTests
	}
	return c, nil
}

// loopbackOnly reports whether addr (HOST:PORT) listens on a loopback
// address only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback() || host == "localhost"
}

// DefaultDataDir returns the platform's user data directory for effusion:
// $XDG_DATA_HOME/effusion, else ~/.local/share/effusion (Linux and other
// Unix), ~/Library/Application Support/effusion (macOS), %LocalAppData%
// \effusion (Windows).
func DefaultDataDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "effusion"), nil
		}
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "Application Support", "effusion"), nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "effusion"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "effusion"), nil
}

func dataDir(d string) (string, error) {
	if d == "" {
		return DefaultDataDir()
	}
	return expandHome(d)
}

// expandHome replaces a leading "~/" with the home directory.
func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("client: no home directory for " + p)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}
