package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/acceptor"
	"github.com/effusion-bt/effusion/peerwire"
)

// incomingHandler is a session as the listener sees it: it finishes the
// handshake of a connection whose info-hash it serves, and runs the peer
// until it disconnects.
type incomingHandler interface {
	serveIncoming(ctx context.Context, c net.Conn, h peerwire.Handshake) error
}

// Listener is one listening port shared by sessions: an acceptor pool whose
// connections read the first 48 bytes of the handshake and are routed by
// info-hash to the session serving that torrent; an unknown info-hash is
// closed. Its methods are safe for concurrent use.
type Listener struct {
	pool *acceptor.Pool
	addr netip.AddrPort
	log  *slog.Logger

	mu       sync.RWMutex
	sessions map[[20]byte]incomingHandler
}

// maxIncoming bounds the incoming connections of a listener, handshaking
// or established, across its sessions.
const maxIncoming = 1000

// ErrUnknownTorrent: an incoming handshake named an info-hash no session
// on this listener serves.
var ErrUnknownTorrent = errors.New("session: unknown info-hash")

// Listen opens a listening port at addr ("127.0.0.1:0", ":6881") with an
// acceptor pool. ctx bounds only the start. Close it with Close.
func Listen(ctx context.Context, addr string, log *slog.Logger) (*Listener, error) {
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("session: listen %s: %w", addr, err)
	}
	l := &Listener{log: log, sessions: make(map[[20]byte]incomingHandler)}
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		l.addr = ap
	}
	pool, err := acceptor.Start(ctx, acceptor.Spec{
		ID:        "peer",
		New:       acceptor.Func(l.route),
		Intensity: -1, // Temporary connections never count anyway
		Shutdown:  acceptor.BrutalKill,
		MaxConns:  maxIncoming,
		Logger:    log,
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

// Close stops accepting and closes every incoming connection.
func (l *Listener) Close() error {
	err := l.pool.Close()
	if errors.Is(err, acceptor.ErrClosed) {
		return nil
	}
	return err
}

func (l *Listener) register(infoHash [20]byte, h incomingHandler) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.sessions[infoHash]; ok {
		return fmt.Errorf("session: info-hash %x already served on this listener", infoHash)
	}
	l.sessions[infoHash] = h
	return nil
}

func (l *Listener) unregister(infoHash [20]byte, h incomingHandler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sessions[infoHash] == h {
		delete(l.sessions, infoHash)
	}
}

// route is the acceptor's connection callback: read the handshake header
// under a deadline, find the torrent, hand the connection over.
func (l *Listener) route(ctx context.Context, c net.Conn) error {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	h, err := peerwire.ReadHandshakeHeader(c)
	if err != nil {
		return acceptor.Shutdown(err) // a stranger's mistake is not our failure
	}
	l.mu.RLock()
	s := l.sessions[h.InfoHash]
	l.mu.RUnlock()
	if s == nil {
		return acceptor.Shutdown(ErrUnknownTorrent)
	}
	return acceptor.Shutdown(s.serveIncoming(ctx, c, h))
}
