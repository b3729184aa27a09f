package daemon

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/client"
)

// Config configures a Daemon. Client is required; the zero value of every
// other field is a sensible default.
type Config struct {
	// Client is the engine the daemon controls. The daemon never shuts it
	// down: its owner does, after Daemon.Shutdown.
	Client *client.Client
	// DataDir is where the daemon keeps its settings (settings.json): the
	// client's data directory. Empty: settings live in memory only.
	DataDir string
	// DownloadDir is where added torrents go when the RPC names no
	// directory and no session-set changed it (default: the current
	// directory, made absolute).
	DownloadDir string
	// Listen is the RPC and web address (default DefaultListen). A
	// non-loopback address needs User (ErrNeedAuth).
	Listen string
	// User and Password, when User is set, are required of every request
	// (HTTP Basic).
	User, Password string
	// AllowedHosts are host names accepted in the Host header besides
	// "localhost" and IP addresses (DNS rebinding defence).
	AllowedHosts []string
	// FetchAllow lists the host names whose http(s) URLs torrent-add may
	// fetch a .torrent from; empty: the daemon fetches no URL.
	FetchAllow []string
	// Encryption, when set, is the encryption policy to apply at start, in
	// Transmission's words ("required", "preferred", "tolerated"); empty
	// keeps the one the settings hold (default "preferred"). session-set
	// changes it while running.
	Encryption string
	// MaxPeersPerTorrent is what session-get reports as
	// peer-limit-per-torrent until a session-set changes it (it should
	// match the client's Config.MaxPeersPerTorrent; default 50).
	MaxPeersPerTorrent int
	// MaxPeers is the client's process-wide cap, for peer-limit-global
	// (default 500).
	MaxPeers int
	// OnClose, if set, is called (once, on its own goroutine) when an RPC
	// client asks the daemon to shut down (session-close).
	OnClose func()
	// Logger receives the daemon's logs (default slog.Default()).
	Logger *slog.Logger
	// Version is reported by session-get (default "effusion").
	Version string
}

// DefaultListen is the RPC address when Config.Listen is empty:
// Transmission's port, on loopback only.
const DefaultListen = "127.0.0.1:9091"

// Sentinel errors.
var (
	// ErrNeedAuth: the RPC would listen on a non-loopback address without
	// a user and password.
	ErrNeedAuth = errors.New("daemon: a non-loopback RPC address needs a user and password")
	// ErrClosed: Serve after Shutdown.
	ErrClosed = errors.New("daemon: closed")
)

// Daemon serves Transmission's RPC, a web UI, the processes view and
// Prometheus metrics over one client. Its methods are safe for concurrent
// use.
type Daemon struct {
	cfg     Config
	c       *client.Client
	log     *slog.Logger
	started time.Time
	sid     string // the X-Transmission-Session-Id of this run

	reg      *registry
	st       *settingsStore
	procs    *procIDs
	auth     *authGate
	handler  http.Handler
	rpcm     map[string]method
	watchers chan struct{} // a token per live watch
	added    atomic.Int64  // torrents added during this run
	closeOne sync.Once

	ctx    context.Context // cancelled by Shutdown: ends background work
	cancel context.CancelFunc
	bg     sync.WaitGroup // background goroutines (sampler, verifies)

	mu     sync.Mutex
	srv    *http.Server
	closed bool
}

// New makes a daemon over cfg.Client: it loads the settings kept in
// cfg.DataDir (a missing file means defaults), applies the rate limits
// they hold, numbers the client's torrents (Transmission ids, in the order
// they were added) and starts sampling their activity. Call Shutdown when
// done.
func New(cfg Config) (*Daemon, error) {
	if cfg.Client == nil {
		return nil, errors.New("daemon: Config.Client is required")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "effusion"
	}
	if cfg.MaxPeersPerTorrent <= 0 {
		cfg.MaxPeersPerTorrent = client.DefaultMaxPeersPerTorrent
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = client.DefaultMaxPeers
	}
	if cfg.DownloadDir == "" {
		cfg.DownloadDir = "."
	}
	dl, err := filepath.Abs(cfg.DownloadDir)
	if err != nil {
		return nil, err
	}
	cfg.DownloadDir = dl
	if err := CheckListen(cfg.Listen, cfg.User != ""); err != nil {
		return nil, err
	}
	if _, ok := encryptionModes[cfg.Encryption]; cfg.Encryption != "" && !ok {
		return nil, fmt.Errorf("daemon: encryption %q: want required, preferred or tolerated", cfg.Encryption)
	}
	st, err := openSettings(cfg.DataDir, defaultSettings(cfg))
	if err != nil {
		return nil, err
	}
	var sid [24]byte
	rand.Read(sid[:])
	d := &Daemon{
		cfg:     cfg,
		c:       cfg.Client,
		log:     cfg.Logger,
		started: time.Now(),
		sid:     base64.RawURLEncoding.EncodeToString(sid[:]),
		st:      st,
		procs:   newProcIDs(),
		auth:    newAuthGate(cfg.User, cfg.Password),

		watchers: make(chan struct{}, maxWatchers),
	}
	d.reg = newRegistry(d.c, d.started)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.st.update(func(s *settings) {
		s.Cumulative.SessionCount++
		if cfg.Encryption != "" {
			s.Encryption = cfg.Encryption
		}
	})
	d.applyLimits()
	d.applyEncryption()
	for _, e := range d.reg.all() {
		d.applyTorrentLimits(e)
	}
	d.handler = d.routes()
	d.bg.Add(1)
	go d.sampleLoop()
	return d, nil
}

// Handler returns the daemon's HTTP handler: the RPC at /transmission/rpc
// (with or without the trailing slash), the web UI at /, the processes at
// /debug/processes, metrics at /metrics, the torrents' files at /stream/
// (package streamhttp), each behind the Host check and, when configured,
// HTTP Basic authentication.
func (d *Daemon) Handler() http.Handler { return d.handler }

// ListenAndServe listens on Config.Listen and serves until Shutdown, when
// it returns nil. It fails at once if the address cannot be opened.
func (d *Daemon) ListenAndServe() error {
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("daemon: RPC listen: %w", err)
	}
	return d.Serve(ln)
}

// Serve serves on ln (which it closes) until Shutdown, when it returns
// nil. The address ln listens on must pass the same rule as
// Config.Listen (ErrNeedAuth).
func (d *Daemon) Serve(ln net.Listener) error {
	if err := CheckListen(ln.Addr().String(), d.cfg.User != ""); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute, // a 22 MiB body on a slow link
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return d.ctx },
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	d.srv = srv
	d.mu.Unlock()
	d.log.Info("RPC and web UI listening", "addr", ln.Addr().String())
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops serving (live streams are ended, requests in progress
// finish, bounded by ctx), stops the background work and writes the
// settings with the session's statistics. The client keeps running: its
// owner shuts it down next. Calling it again returns ErrClosed.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrClosed
	}
	d.closed = true
	srv := d.srv
	d.mu.Unlock()
	d.cancel() // ends the SSE streams and the sampler
	var err error
	if srv != nil {
		err = srv.Shutdown(ctx)
	}
	d.bg.Wait()
	d.sample() // the last totals, for the cumulative statistics
	d.st.update(func(s *settings) {
		s.Cumulative.SecondsActive += int64(time.Since(d.started).Seconds())
		s.Cumulative.UploadedBytes += d.reg.sessionUp()
		s.Cumulative.DownloadedBytes += d.reg.sessionDown()
		s.Cumulative.FilesAdded += d.added.Load()
	})
	if serr := d.st.flush(); err == nil {
		err = serr
	}
	return err
}

// SessionID returns the X-Transmission-Session-Id clients must echo.
func (d *Daemon) SessionID() string { return d.sid }

// close runs Config.OnClose once (session-close).
func (d *Daemon) requestClose() {
	if d.cfg.OnClose == nil {
		return
	}
	d.closeOne.Do(func() { go d.cfg.OnClose() })
}
