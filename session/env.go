package session

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/peerwire"
	"github.com/effusion-bt/effusion/storage"
	"github.com/effusion-bt/effusion/transport"
	"golang.org/x/time/rate"
)

// EnvConfig configures NewEnv. The zero value of every field is a sensible
// default.
type EnvConfig struct {
	// MaxHalfOpen caps outgoing dials in progress across the sessions
	// (default transport.DefaultMaxHalfOpen).
	MaxHalfOpen int
	// MaxPeers caps the connected peers of all the sessions together (each
	// session's Config.MaxPeers applies too); 0 means no process-wide cap.
	MaxPeers int
	// MaxInflightBlocks caps the received blocks not yet verified and
	// written, across the sessions. The default is 768 (12 MiB), raised
	// up to 4,096 (64 MiB) by sessions whose pieces are large (room for
	// four of them); a value set here is a fixed cap.
	MaxInflightBlocks int
	// HashWorkers is the number of hashing goroutines (default one per
	// core, runtime.GOMAXPROCS).
	HashWorkers int
	// DownloadRate and UploadRate cap the payload bytes per second of all
	// the sessions together; 0 means unlimited. Each session's own limits
	// apply on top.
	DownloadRate, UploadRate int
	// Listener, when set, is the listening port every session registers on
	// (routed by info-hash); the environment does not close it. Without
	// it, each session opens its own at Config.ListenAddr.
	Listener *transport.Listener
	// BindAddr, when valid, is the source address of outgoing connections.
	BindAddr netip.Addr
	// DHTPort, when not 0, is the UDP port of our DHT node: our handshakes
	// set the DHT bit and peers that set it get a PORT message (BEP 5).
	DHTPort uint16
	// OnPort, when set, receives the DHT node address a peer tells us in a
	// PORT message (its IP and that port), for the DHT's routing table.
	OnPort func(netip.AddrPort)
	// Encryption is what outgoing connections try (mse.Policy: Prefer, the
	// zero value, tries MSE and falls back to plain; Require, Off). The
	// listener has its own (transport.ListenConfig.Encryption).
	Encryption mse.Policy
	// Transport is how outgoing connections are made (transport.Both, the
	// zero value: uTP first, then TCP; TCP; UTP). uTP needs a Listener
	// with uTP sockets (transport.ListenConfig.UTP): connections leave
	// from its port. Without one every dial is TCP.
	Transport transport.Mode
	// MaxOpenFiles caps the data files open at once across the sessions
	// (storage.FileLimit); 0 means no process-wide cap (each session's
	// storage keeps its own, storage.DefaultMaxOpenFiles).
	MaxOpenFiles int
	// BufferedWrites writes every piece through the page cache instead of
	// writing aligned pieces with O_DIRECT (storage.Options.BufferedWrites):
	// for file systems where direct I/O is slow, or a machine that would
	// rather keep what it downloaded cached for seeding.
	BufferedWrites bool
}

// Env is what the sessions of a process share: the hashing workers, the
// budget of received blocks, the dialer with its half-open cap, the
// process-wide rate limits and the listening port. A client owns one and
// passes it to each session (Config.Env); a session started without one
// makes its own and closes it when it ends. Its methods are safe for
// concurrent use.
type Env struct {
	listener *transport.Listener
	dialer   *transport.Dialer
	blocks   *blockPool
	hashers  *hashPool
	down, up limiter
	maxPeers int64 // 0: no cap
	dhtPort  uint16
	onPort   func(netip.AddrPort)
	peers    atomic.Int64    // connected peers of every session
	storage  storage.Options // each session's storage: the shared file cap, the write mode

	closeOnce sync.Once
}

// NewEnv starts the hashing workers and returns the environment. Close it
// once every session using it has stopped.
func NewEnv(cfg EnvConfig) *Env {
	ceiling := cfg.MaxInflightBlocks
	if cfg.MaxInflightBlocks <= 0 {
		cfg.MaxInflightBlocks, ceiling = defaultInflightBlocks, ceilingInflightBlocks
	}
	if cfg.HashWorkers <= 0 {
		cfg.HashWorkers = max(runtime.GOMAXPROCS(0), 1)
	}
	e := &Env{
		listener: cfg.Listener,
		dialer:   transport.NewDialer(cfg.MaxHalfOpen, cfg.BindAddr),
		blocks:   newBlockPool(cfg.MaxInflightBlocks, ceiling),
		maxPeers: int64(max(cfg.MaxPeers, 0)),
		dhtPort:  cfg.DHTPort,
		onPort:   cfg.OnPort,
		storage:  storage.Options{BufferedWrites: cfg.BufferedWrites},
	}
	if cfg.MaxOpenFiles > 0 {
		e.storage.Files = storage.NewFileLimit(cfg.MaxOpenFiles)
	}
	e.dialer.SetEncryption(cfg.Encryption)
	if cfg.Listener != nil {
		e.dialer.SetUTP(cfg.Listener.UTPSockets()...)
	}
	e.dialer.SetMode(cfg.Transport)
	e.hashers = newHashPool(cfg.HashWorkers, e.blocks)
	e.SetRateLimits(cfg.DownloadRate, cfg.UploadRate)
	return e
}

// SetRateLimits changes the process-wide limits (bytes per second; 0:
// unlimited), at once for every session.
func (e *Env) SetRateLimits(down, up int) {
	e.down.set(down)
	e.up.set(up)
}

// full reports whether the process-wide peer cap is reached.
func (e *Env) full() bool { return e.maxPeers > 0 && e.peers.Load() >= e.maxPeers }

// Peers returns the connected peers of all the sessions.
func (e *Env) Peers() int { return int(e.peers.Load()) }

// SetEncryption changes what outgoing connections try, from the next dial.
func (e *Env) SetEncryption(p mse.Policy) { e.dialer.SetEncryption(p) }

// SetTransport changes how outgoing connections are made, from the next
// dial.
func (e *Env) SetTransport(m transport.Mode) { e.dialer.SetMode(m) }

// HintUTP records peers known to speak uTP (PEX entries with the uTP flag,
// 0x04): under transport.Both they are dialled over uTP alone (TCP only if
// that fails), without racing TCP after a head start.
func (e *Env) HintUTP(addrs ...netip.AddrPort) {
	for _, a := range addrs {
		e.dialer.HintUTP(a)
	}
}

// OpenFiles returns the data files open now under the process-wide cap
// (0 without one).
func (e *Env) OpenFiles() int {
	if e.storage.Files == nil {
		return 0
	}
	return e.storage.Files.Open()
}

// InflightBlocks returns the received blocks not yet verified and written
// that count against the budget now, and the budget (MaxInflightBlocks, or
// the default as sessions raised it).
func (e *Env) InflightBlocks() (used, budget int) {
	return int(e.blocks.live.Load()) - len(e.blocks.free), int(e.blocks.budget())
}

// Listener returns the shared listening port, or nil.
func (e *Env) Listener() *transport.Listener { return e.listener }

// Close stops the hashing workers (after they finish what is queued). The
// sessions must have stopped; Close is idempotent.
func (e *Env) Close() {
	e.closeOnce.Do(e.hashers.stop)
}

// limiter is a rate limit that may change while peers use it: nil inside
// means unlimited, which costs the hot path one atomic load.
type limiter struct{ p atomic.Pointer[rate.Limiter] }

// set installs a limit of bps bytes per second (<= 0: none), with a burst
// of one second's worth (at least one block).
func (l *limiter) set(bps int) {
	if bps <= 0 {
		l.p.Store(nil)
		return
	}
	l.p.Store(rate.NewLimiter(rate.Limit(bps), max(bps, peerwire.BlockSize)))
}

// wait waits until n bytes are allowed, or ctx ends.
func (l *limiter) wait(ctx context.Context, n int) error {
	if lim := l.p.Load(); lim != nil {
		return lim.WaitN(ctx, n)
	}
	return nil
}

// limited reports whether a limit is set.
func (l *limiter) limited() bool { return l.p.Load() != nil }
