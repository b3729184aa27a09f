// Package server is a BitTorrent tracker: HTTP announce and scrape (BEP 3,
// 7, 23, 48) and the UDP protocol (BEP 15), with every table bounded. Tests
// and the swarm demo start it in-process on a loopback port; the command
// "effusion tracker" runs it standalone.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Config configures a Server. The zero value of every field but the
// addresses is a sensible default.
type Config struct {
	// HTTPAddr and UDPAddr are listen addresses ("127.0.0.1:0" picks a free
	// port); an empty address disables that protocol. At least one is required.
	HTTPAddr, UDPAddr string
	// UDPOnHTTPAddr, with UDPAddr empty, serves UDP on the HTTP listener's
	// exact address and port (with port 0 both get the same free port), as
	// trackers are usually announced: http://H:P/announce and udp://H:P.
	UDPOnHTTPAddr bool
	// Interval is the announce interval told to clients (default 30 min).
	// Peers not heard from for two intervals are forgotten.
	Interval time.Duration
	// MinInterval is sent as "min interval" (default Interval / 2).
	MinInterval time.Duration
	// DefaultNumWant (default 50) and MaxNumWant (default 200) bound the peers returned.
	DefaultNumWant, MaxNumWant int
	// MaxTorrents (default 10000), MaxPeersPerTorrent (default 5000) and
	// MaxPeers (default 200000) bound memory; beyond them announces get a
	// failure reason. A full tracker still accepts a new torrent by
	// evicting the least recently announced torrent that has no seeder;
	// only when every torrent has a seeder is a new one refused.
	MaxTorrents, MaxPeersPerTorrent, MaxPeers int
	// MaxTorrentsPerIP bounds the torrents one address (an IPv4 address or
	// an IPv6 /64) may create; a torrent counts against its creator as long
	// as it is tracked. Default MaxTorrents/100, at least 10; negative: no limit.
	MaxTorrentsPerIP int
	// AllowList, when non-empty, is the only info-hashes served
	// (SetAllowList replaces it while running).
	AllowList [][20]byte
	// TrustIPParam honours the announce "ip" parameter; by default the
	// source address is used (the parameter would let anyone register others).
	TrustIPParam bool
	// Logger receives start/stop and error logs (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
}

// Server is a running tracker. Its methods are safe for concurrent use.
type Server struct {
	cfg    Config
	store  *store
	log    *slog.Logger
	secret [32]byte // HMAC key for UDP connection ids

	httpLn  net.Listener
	httpSrv *http.Server
	udp     *net.UDPConn

	wg        sync.WaitGroup
	done      chan struct{}
	closeOnce sync.Once
}

// ErrServerClosed is returned by Shutdown and Close on a server already closed.
var ErrServerClosed = errors.New("tracker server: closed")

// Start listens on the configured addresses and serves until Shutdown or
// Close (ctx only bounds the start). It fails if no address is set or a
// listener cannot be opened.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.HTTPAddr == "" && cfg.UDPAddr == "" {
		return nil, errors.New("tracker server: no listen address")
	}
	if cfg.UDPOnHTTPAddr && (cfg.HTTPAddr == "" || cfg.UDPAddr != "") {
		return nil, errors.New("tracker server: UDPOnHTTPAddr needs HTTPAddr and no UDPAddr")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := newServer(cfg)
	cfg = s.cfg
	if err := s.listen(ctx); err != nil {
		return nil, fmt.Errorf("tracker server: %w", err)
	}
	if s.httpLn != nil {
		s.httpSrv = &http.Server{
			Handler:           s.httpHandler(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      15 * time.Second,
			IdleTimeout:       60 * time.Second,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}
	if s.httpSrv != nil {
		s.wg.Go(func() {
			if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http serve", "err", err)
			}
		})
	}
	if s.udp != nil {
		s.wg.Go(s.serveUDP)
	}
	s.wg.Go(s.sweeper)
	s.log.Info("tracker started", "http", s.AnnounceURL(), "udp", s.UDPAnnounceURL(), "interval", cfg.Interval)
	return s, nil
}

// listen opens the configured sockets. With UDPOnHTTPAddr and port 0 the
// free port the TCP listener got may be taken for UDP; it then tries again
// with another, a few times.
func (s *Server) listen(ctx context.Context) error {
	var lc net.ListenConfig
	for try := 0; ; try++ {
		if s.cfg.HTTPAddr != "" {
			ln, err := lc.Listen(ctx, "tcp", s.cfg.HTTPAddr)
			if err != nil {
				return err
			}
			s.httpLn = ln
		}
		udpAddr := s.cfg.UDPAddr
		if s.cfg.UDPOnHTTPAddr {
			udpAddr = s.httpLn.Addr().String()
		}
		if udpAddr == "" {
			return nil
		}
		pc, err := lc.ListenPacket(ctx, "udp", udpAddr)
		if err == nil {
			s.udp = pc.(*net.UDPConn)
			return nil
		}
		if s.httpLn != nil {
			s.httpLn.Close()
			s.httpLn = nil
		}
		_, port, _ := net.SplitHostPort(s.cfg.HTTPAddr)
		if !s.cfg.UDPOnHTTPAddr || port != "0" || try == 4 || !errors.Is(err, syscall.EADDRINUSE) {
			return err
		}
	}
}

// newServer builds a server without sockets (Start adds them; tests and
// fuzz targets drive the handlers directly).
func newServer(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	_, _ = rand.Read(s.secret[:])
	l := limits{maxTorrents: cfg.MaxTorrents, maxPeersPerTorrent: cfg.MaxPeersPerTorrent, maxPeers: cfg.MaxPeers,
		maxTorrentsPerIP: max(cfg.MaxTorrentsPerIP, 0), allow: allowSet(cfg.AllowList)}
	s.store = newStore(l, 2*cfg.Interval, cfg.Now)
	return s
}

func allowSet(list [][20]byte) map[[20]byte]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[[20]byte]bool, len(list))
	for _, h := range list {
		m[h] = true
	}
	return m
}

// SetAllowList makes list the only info-hashes served from now on (nil or
// empty: any torrent) and forgets the torrents it no longer allows. It is
// safe to call while the server runs, e.g. on SIGHUP.
func (s *Server) SetAllowList(list [][20]byte) { s.store.setAllow(allowSet(list)) }

// Usage is how full the tracker is.
type Usage struct {
	Torrents, Peers int    // tracked now
	Evicted         uint64 // torrents evicted so far to make room for new ones
}

// Usage returns how many torrents and peers the server tracks now.
func (s *Server) Usage() Usage {
	t, p, e := s.store.counts()
	return Usage{Torrents: t, Peers: p, Evicted: e}
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = 30 * time.Minute
	}
	if c.MinInterval <= 0 || c.MinInterval > c.Interval {
		c.MinInterval = c.Interval / 2
	}
	if c.DefaultNumWant <= 0 {
		c.DefaultNumWant = 50
	}
	if c.MaxNumWant <= 0 {
		c.MaxNumWant = 200
	}
	c.DefaultNumWant = min(c.DefaultNumWant, c.MaxNumWant)
	if c.MaxTorrents <= 0 {
		c.MaxTorrents = 10000
	}
	if c.MaxTorrentsPerIP == 0 {
		c.MaxTorrentsPerIP = max(c.MaxTorrents/100, 10)
	}
	if c.MaxPeersPerTorrent <= 0 {
		c.MaxPeersPerTorrent = 5000
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 200000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// sweeper expires stale peers every interval/2 so idle torrents release memory.
func (s *Server) sweeper() {
	t := time.NewTicker(max(s.cfg.Interval/2, time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.store.sweep()
		}
	}
}

// HTTPAddr returns the HTTP listener's address (invalid when HTTP is off).
func (s *Server) HTTPAddr() netip.AddrPort {
	if s.httpLn == nil {
		return netip.AddrPort{}
	}
	return s.httpLn.Addr().(*net.TCPAddr).AddrPort()
}

// UDPAddr returns the UDP socket's address (invalid when UDP is off).
func (s *Server) UDPAddr() netip.AddrPort {
	if s.udp == nil {
		return netip.AddrPort{}
	}
	return s.udp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// AnnounceURL returns "http://HOST:PORT/announce", or "" when HTTP is off.
func (s *Server) AnnounceURL() string {
	if s.httpLn == nil {
		return ""
	}
	return "http://" + s.HTTPAddr().String() + "/announce"
}

// ScrapeURL returns "http://HOST:PORT/scrape", or "" when HTTP is off.
func (s *Server) ScrapeURL() string {
	if s.httpLn == nil {
		return ""
	}
	return "http://" + s.HTTPAddr().String() + "/scrape"
}

// UDPAnnounceURL returns "udp://HOST:PORT/announce", or "" when UDP is off.
func (s *Server) UDPAnnounceURL() string {
	if s.udp == nil {
		return ""
	}
	return "udp://" + s.UDPAddr().String() + "/announce"
}

// Peers returns a snapshot of the peers known for infoHash (nil if none).
func (s *Server) Peers(infoHash [20]byte) []PeerInfo { return s.store.peers(infoHash) }

// Stats returns the scrape counts for infoHash; ok is false for an unknown torrent.
func (s *Server) Stats(infoHash [20]byte) (complete, incomplete, downloaded int, ok bool) {
	return s.store.scrape(infoHash)
}

// Shutdown stops accepting, lets in-flight HTTP requests finish until ctx
// ends, and waits for the server's goroutines. A second call returns ErrServerClosed.
func (s *Server) Shutdown(ctx context.Context) error {
	first := false
	s.closeOnce.Do(func() { first = true })
	if !first {
		return ErrServerClosed
	}
	close(s.done)
	var err error
	if s.httpSrv != nil {
		if err = s.httpSrv.Shutdown(ctx); err != nil {
			s.httpSrv.Close()
		}
	}
	if s.udp != nil {
		s.udp.Close()
	}
	s.wg.Wait()
	s.log.Info("tracker stopped")
	return err
}

// Close stops the server at once (open HTTP connections are closed) and waits
// for its goroutines. A second call returns ErrServerClosed.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
