package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
	"github.com/effusion-bt/effusion/mse"
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
	// Encryption is what incoming connections may use (mse.Policy: the
	// zero value, Prefer, accepts plain and MSE; Require refuses plain;
	// Off refuses MSE).
	Encryption mse.Policy
	// Logger receives the listener's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Defaults of ListenConfig.
const (
	DefaultMaxConns         = 1000
	DefaultMaxHalfOpenPerIP = 16
	// FirstByteTimeout: an accepted connection that has not sent its first
	// bytes (enough to tell a plain handshake from MSE) by then is closed;
	// the whole handshake gets HandshakeTimeout.
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

	policy atomic.Uint32 // mse.Policy of incoming connections

	mu       sync.RWMutex
	handlers map[[20]byte]Handler
	skeys    map[[20]byte][20]byte // mse.SKeyHash(info-hash) -> info-hash
	halfOpen map[netip.Addr]int

	counts [numCounts]atomic.Int64
}

// Counts of incoming connections, by outcome (Listener.Counts).
type Counts struct {
	Plain, Encrypted int64 // handed to a torrent: plain, or after MSE
	Refused          int64 // refused by the encryption policy
	Failed           int64 // a failed MSE handshake (garbage, unknown torrent, bad step)
	Unknown          int64 // a plain handshake for a torrent not served here
	HalfOpen         int64 // closed at once: too many half-open from one address
}

const (
	cntPlain = iota
	cntEncrypted
	cntRefused
	cntFailed
	cntUnknown
	cntHalfOpen
	numCounts
)

// Counts returns how incoming connections ended up, since Listen.
func (l *Listener) Counts() Counts {
	return Counts{
		Plain: l.counts[cntPlain].Load(), Encrypted: l.counts[cntEncrypted].Load(),
		Refused: l.counts[cntRefused].Load(), Failed: l.counts[cntFailed].Load(),
		Unknown: l.counts[cntUnknown].Load(), HalfOpen: l.counts[cntHalfOpen].Load(),
	}
}

// SetEncryption changes what new incoming connections may use.
func (l *Listener) SetEncryption(p mse.Policy) { l.policy.Store(uint32(p)) }

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
		skeys:    make(map[[20]byte][20]byte),
		halfOpen: make(map[netip.Addr]int),
	}
	l.SetEncryption(cfg.Encryption)
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
	l.skeys[mse.SKeyHash(infoHash)] = infoHash
	return nil
}

// Unregister stops routing infoHash to h (a no-op if h is not the one
// registered). Connections already handed to h are h's business.
func (l *Listener) Unregister(infoHash [20]byte, h Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handlers[infoHash] == h {
		delete(l.handlers, infoHash)
		delete(l.skeys, mse.SKeyHash(infoHash))
	}
}

// lookup is mse.Respond's: the torrent an incoming MSE handshake names.
func (l *Listener) lookup(skey [20]byte) ([20]byte, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ih, ok := l.skeys[skey]
	return ih, ok
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

// route is the acceptor's connection callback: tell a plain handshake from
// MSE by the first bytes, answer MSE (the torrent found by its SKEY hash),
// read the handshake header, all under the deadlines; then hand the
// connection (decrypting, or the bare socket) to the torrent. Every error is
// a stranger's mistake, not our failure (acceptor.Shutdown).
func (l *Listener) route(ctx context.Context, c net.Conn) error {
	start := time.Now()
	ip := remoteIP(c)
	if !l.enter(ip) {
		l.counts[cntHalfOpen].Add(1)
		return acceptor.Shutdown(ErrHalfOpen)
	}
	conn, h, err := l.handshake(ctx, c, start)
	l.leave(ip)
	if err != nil {
		return acceptor.Shutdown(err)
	}
	l.mu.RLock()
	hd := l.handlers[h.InfoHash]
	l.mu.RUnlock()
	if hd == nil {
		l.counts[cntUnknown].Add(1)
		return acceptor.Shutdown(ErrUnknownTorrent)
	}
	return acceptor.Shutdown(hd.ServeIncoming(ctx, conn, h))
}

// handshake reads what precedes the handler's part: the first bytes within
// l.timeout (plain or MSE?), the MSE handshake if any and the 48-byte
// BitTorrent header within HandshakeTimeout of start, which is also the
// deadline left for the handler to finish the handshake.
func (l *Listener) handshake(ctx context.Context, c net.Conn, start time.Time) (net.Conn, peerwire.Handshake, error) {
	deadline := start.Add(HandshakeTimeout)
	first := start.Add(l.timeout)
	if first.After(deadline) {
		first = deadline
	}
	fctx, cancel := context.WithDeadline(ctx, first)
	mc, plain, err := mse.Sniff(fctx, c)
	cancel()
	if err != nil {
		return nil, peerwire.Handshake{}, err
	}
	policy := mse.Policy(l.policy.Load())
	switch {
	case plain && !policy.AcceptsPlain():
		l.counts[cntRefused].Add(1)
		return nil, peerwire.Handshake{}, mse.ErrPlainRefused
	case !plain && !policy.AcceptsMSE():
		l.counts[cntRefused].Add(1)
		return nil, peerwire.Handshake{}, mse.ErrEncryptionOff
	case !plain:
		hctx, cancel := context.WithDeadline(ctx, deadline)
		mc, err = mse.Respond(hctx, mc, l.lookup, policy.Select)
		cancel()
		if err != nil {
			l.counts[cntFailed].Add(1)
			return nil, peerwire.Handshake{}, err
		}
	}
	c.SetDeadline(deadline)
	h, err := peerwire.ReadHandshakeHeader(mc)
	if err != nil {
		return nil, h, err
	}
	if mc.Method() != mse.None && h.InfoHash != mc.InfoHash() {
		l.counts[cntFailed].Add(1)
		return nil, h, fmt.Errorf("%w: MSE for %x, handshake for %x", ErrWrongTorrent, mc.InfoHash(), h.InfoHash)
	}
	if mc.Encrypted() {
		l.counts[cntEncrypted].Add(1)
	} else {
		l.counts[cntPlain].Add(1)
	}
	if bare, ok := mc.Plain(); ok {
		return bare, h, nil // sendfile and writev stay available
	}
	return mc, h, nil
}

// remoteIP is the connection's remote IP address, unmapped (the zero Addr
// if it has none, which then shares one budget).
func remoteIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
