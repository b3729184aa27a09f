package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
	"github.com/effusion-bt/effusion/peerwire"
)

// Handler is a torrent as the listener sees it.
type Handler interface {
	// ServeIncoming finishes the handshake of an incoming connection whose
	// header (h: protocol, reserved bits, info-hash) named the handler's
	// torrent, by sending its own handshake and reading the peer id, then
	// runs the peer until it disconnects or ctx ends. The connection's
	// deadline bounds the rest of the handshake; the handler clears it.
	ServeIncoming(ctx context.Context, c net.Conn, h peerwire.Handshake) error
}

// ListenConfig configures Listen. The zero value of every field but Addr is
// a sensible default.
type ListenConfig struct {
	// Addr is the TCP address to listen on ("127.0.0.1:0", ":6881").
	Addr string
	// MaxConns caps incoming connections, handshaking or established
	// (default 1000).
	MaxConns int
	// MaxHalfOpenPerIP caps the connections from one IP address that have
	// not finished their handshake header (default 16).
	MaxHalfOpenPerIP int
	// Logger receives the listener's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of ListenConfig.
const (
	DefaultMaxConns         = 1000
	DefaultMaxHalfOpenPerIP = 16
	// FirstByteTimeout: an accepted connection that sends nothing for this
	// long is closed (a whole handshake header gets HandshakeTimeout).
	FirstByteTimeout = 3 * time.Second
)

// Listener is one listening port shared by torrents: an acceptor pool
// (package acceptor) whose connections read the first 48 bytes of the
// handshake and are routed by info-hash to the Handler registered for it;
// an unknown info-hash is closed. Its methods are safe for concurrent use.
type Listener struct {
	pool    *acceptor.Pool
	addr    netip.AddrPort
	log     *slog.Logger
	perIP   int
	timeout time.Duration // FirstByteTimeout, shortened by tests

	mu       sync.RWMutex
	handlers map[[20]byte]Handler
	halfOpen map[netip.Addr]int
}

// Listen opens a listening port with an acceptor pool. ctx bounds only the
// start. Close it with Close.
func Listen(ctx context.Context, cfg ListenConfig) (*Listener, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxHalfOpenPerIP <= 0 {
		cfg.MaxHalfOpenPerIP = DefaultMaxHalfOpenPerIP
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", cfg.Addr, err)
	}
	l := &Listener{
		log:      cfg.Logger,
		perIP:    cfg.MaxHalfOpenPerIP,
		timeout:  FirstByteTimeout,
		handlers: make(map[[20]byte]Handler),
		halfOpen: make(map[netip.Addr]int),
	}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		l.addr = ap
	}
	pool, err := acceptor.Start(ctx, acceptor.Spec{
		ID:        "peer",
		New:       acceptor.Func(l.route),
		Intensity: -1, // Temporary connections never count anyway
		Shutdown:  acceptor.BrutalKill,
		MaxConns:  cfg.MaxConns,
		Logger:    cfg.Logger,
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if _, err := pool.AddListener(ctx, ln, max(2, runtime.GOMAXPROCS(0))); err != nil {
		pool.Close()
		ln.Close()
		return nil, err
	}
	l.pool = pool
	return l, nil
}

// Addr returns the listening address.
func (l *Listener) Addr() netip.AddrPort { return l.addr }

// Close stops accepting and closes every incoming connection (established
// ones included: their handlers see their connections fail).
func (l *Listener) Close() error {
	err := l.pool.Close()
	if errors.Is(err, acceptor.ErrClosed) {
		return nil
	}
	return err
}

// Register routes incoming handshakes for infoHash to h; ErrRegistered if
// another handler has it.
func (l *Listener) Register(infoHash [20]byte, h Handler) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.handlers[infoHash]; ok {
		return fmt.Errorf("%w: %x", ErrRegistered, infoHash)
	}
	l.handlers[infoHash] = h
	return nil
}

// Unregister stops routing infoHash to h (a no-op if h is not the one
// registered). Connections already handed to h are h's business.
func (l *Listener) Unregister(infoHash [20]byte, h Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handlers[infoHash] == h {
		delete(l.handlers, infoHash)
	}
}

// enter counts a half-open connection from ip; false when ip has too many.
func (l *Listener) enter(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.halfOpen[ip] >= l.perIP {
		return false
	}
	l.halfOpen[ip]++
	return true
}

func (l *Listener) leave(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.halfOpen[ip]--; l.halfOpen[ip] <= 0 {
		delete(l.halfOpen, ip)
	}
}

// route is the acceptor's connection callback: read the handshake header
// under the deadlines, find the torrent, hand the connection over. Every
// error is a stranger's mistake, not our failure (acceptor.Shutdown).
func (l *Listener) route(ctx context.Context, c net.Conn) error {
	start := time.Now()
	ip := remoteIP(c)
	if !l.enter(ip) {
		return acceptor.Shutdown(ErrHalfOpen)
	}
	h, err := l.readHeader(c, start)
	l.leave(ip)
	if err != nil {
		return acceptor.Shutdown(err)
	}
	l.mu.RLock()
	hd := l.handlers[h.InfoHash]
	l.mu.RUnlock()
	if hd == nil {
		return acceptor.Shutdown(ErrUnknownTorrent)
	}
	return acceptor.Shutdown(hd.ServeIncoming(ctx, c, h))
}

// readHeader reads the 48-byte handshake header: the first byte within
// l.timeout, the rest within HandshakeTimeout of start, which is also the
// deadline left for the handler to finish the handshake.
func (l *Listener) readHeader(c net.Conn, start time.Time) (peerwire.Handshake, error) {
	deadline := start.Add(HandshakeTimeout)
	first := start.Add(l.timeout)
	if first.After(deadline) {
		first = deadline
	}
	c.SetDeadline(first)
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return peerwire.Handshake{}, err
	}
	c.SetDeadline(deadline)
	return peerwire.ReadHandshakeHeader(io.MultiReader(bytes.NewReader(b[:]), c))
}

// remoteIP is the connection's remote IP address, unmapped (the zero Addr
// if it has none, which then shares one budget).
func remoteIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
