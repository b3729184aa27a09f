package dht

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	adht "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent/iplist"
	"golang.org/x/time/rate"
)

// DefaultBootstrap are the well-known routers a node starts from when it
// has no saved nodes. Tests and demos never use them: they pass loopback
// nodes in Config.Bootstrap.
var DefaultBootstrap = []string{
	"router.bittorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"router.utorrent.com:6881",
	"dht.libtorrent.org:25401",
}

// Defaults of Config.
const (
	DefaultListen       = "0.0.0.0:6881"
	DefaultSaveInterval = 10 * time.Minute
	DefaultSendRate     = 250 // datagrams per second, queries and replies together
	DefaultSendBurst    = 50
	maxPendingPings     = 32
	closeWait           = 10 * time.Second
	resolveTimeout      = 10 * time.Second
)

// Errors of New and the Node's methods.
var (
	// ErrClosed is returned by the methods of a closed Node.
	ErrClosed = errors.New("dht: node closed")
	// ErrBadBootstrap is wrapped when a bootstrap entry is not HOST:PORT.
	ErrBadBootstrap = errors.New("dht: bad bootstrap address")
	// ErrAddrRefused is returned by AddNode and Ping for an address that
	// the node's AddrPolicy (or its socket's family) does not allow.
	ErrAddrRefused = errors.New("dht: address refused")
	// ErrBusy is returned by AddNode when too many pings are pending.
	ErrBusy = errors.New("dht: too many pending node pings")
)

// Config configures a Node. The zero value is a public node on
// 0.0.0.0:6881 that bootstraps from DefaultBootstrap and saves nothing.
type Config struct {
	// Conn is the node's socket. The client passes a view of the UDP
	// socket it shares with uTP that delivers the datagrams starting with
	// 'd' (KRPC is a bencoded dictionary). The Node owns it: Close closes
	// it. A read error other than a timeout, while the node runs, stops
	// the node from answering (it is logged) rather than crashing it.
	Conn net.PacketConn
	// Listen is the UDP address to listen on when Conn is nil
	// (DefaultListen).
	Listen string
	// Bootstrap lists HOST:PORT routers used when the routing table is
	// empty or its saved nodes do not answer. nil means DefaultBootstrap;
	// an empty non-nil slice means none (a node that only answers, or
	// learns nodes through AddNode).
	Bootstrap []string
	// Nodes, when set, keeps the routing table across restarts: loaded at
	// start, saved every SaveInterval and at Close.
	Nodes NodeStore
	// SaveInterval is how often the routing table is saved (10 min).
	SaveInterval time.Duration
	// AddrPolicy decides whether local addresses are accepted (see
	// AddrPolicyAuto, the default).
	AddrPolicy AddrPolicy
	// PeerStore keeps what other nodes announce to us (nil: a new
	// NewPeerStore(PeerStoreConfig{})).
	PeerStore *PeerStore
	// NodeID is the node's id (zero: random).
	NodeID [20]byte
	// SendRate and SendBurst limit the datagrams this node sends per
	// second (250, 50); each Node has its own limiter.
	SendRate  float64
	SendBurst int
	// SourceRate and SourceBurst limit the datagrams accepted per source
	// (DefaultSourceRate, DefaultSourceBurst); the excess is dropped
	// unread.
	SourceRate  float64
	SourceBurst int
	// MaxPacket is the largest datagram accepted (DefaultMaxPacket).
	MaxPacket int
	// Resolver resolves bootstrap host names (net.DefaultResolver).
	Resolver *net.Resolver
	// Logger receives the node's own warnings, and the library's messages
	// at debug level (default: discard).
	Logger *slog.Logger
}

// Node is one DHT node (BEP 5) over anacrolix/dht: a routing table, answers
// to other nodes' queries (with a bounded PeerStore), and searches for
// peers. Incoming datagrams pass a filter first (CheckKRPC, the address
// policy, a per-source rate limit). One Node per process and socket; its
// methods are safe for concurrent use.
type Node struct {
	cfg    Config
	srv    *adht.Server
	conn   *filterConn
	filter *filter
	store  *PeerStore
	public bool
	logger *slog.Logger
	v4     bool // the socket is IPv4

	root   context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	bootstrap    []string
	starting     atomic.Pointer[[]adht.Addr] // resolved bootstrap routers
	bootDone     chan struct{}               // closed after the first bootstrap
	bootResult   BootstrapResult
	pings        chan struct{} // semaphore of AddNode pings
	nodeAdded    chan struct{} // AddNode's nudge to the maintain loop
	waiting      wakeList      // whenNodes: woken once the table has a node
	closeOnce    sync.Once
	closed       atomic.Bool
	bootstrapped atomic.Bool
}

// BootstrapResult is the outcome of a node's first bootstrap.
type BootstrapResult struct {
	SavedNodes int // nodes reloaded from the NodeStore
	Tried      int // addresses queried
	Responses  int // answers received
	Nodes      int // routing table size afterwards
	Err        error
}

// New starts a node: it opens the socket (or takes Conn), loads the saved
// nodes, and starts bootstrapping and maintaining the routing table in the
// background (WaitBootstrap waits for the first bootstrap). ctx bounds only
// the start. The caller must call Close.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Bootstrap == nil {
		cfg.Bootstrap = DefaultBootstrap
	}
	for _, b := range cfg.Bootstrap {
		if err := checkHostPort(b); err != nil {
			return nil, err
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.SaveInterval <= 0 {
		cfg.SaveInterval = DefaultSaveInterval
	}
	if cfg.SendRate <= 0 {
		cfg.SendRate = DefaultSendRate
	}
	if cfg.SendBurst <= 0 {
		cfg.SendBurst = DefaultSendBurst
	}
	if cfg.SourceRate <= 0 {
		cfg.SourceRate = DefaultSourceRate
	}
	if cfg.SourceBurst <= 0 {
		cfg.SourceBurst = DefaultSourceBurst
	}
	if cfg.MaxPacket <= 0 || cfg.MaxPacket > DefaultMaxPacket {
		cfg.MaxPacket = DefaultMaxPacket
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PeerStore == nil {
		cfg.PeerStore = NewPeerStore(PeerStoreConfig{})
	}
	conn := cfg.Conn
	if conn == nil {
		var err error
		conn, err = net.ListenPacket("udp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("dht: listen: %w", err)
		}
	}
	local := addrPortOf(conn.LocalAddr())
	public := decidePublic(cfg.AddrPolicy, cfg.Bootstrap, local.Addr())
	n := &Node{
		cfg:       cfg,
		store:     cfg.PeerStore,
		public:    public,
		logger:    cfg.Logger,
		v4:        local.Addr().Is4() || local.Addr().Unmap().Is4(),
		bootstrap: cfg.Bootstrap,
		bootDone:  make(chan struct{}),
		pings:     make(chan struct{}, maxPendingPings),
		nodeAdded: make(chan struct{}, 1),
	}
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok && ua.IP.To4() == nil && len(ua.IP) == net.IPv6len {
		n.v4 = false // a dual-stack or IPv6 socket
	}
	n.filter = newFilter(public, cfg.MaxPacket, cfg.SourceRate, float64(cfg.SourceBurst), nil)
	n.conn = newFilterConn(conn, n.filter, cfg.Logger)
	n.starting.Store(new([]adht.Addr))

	sc := adht.NewDefaultServerConfig()
	sc.Conn = n.conn
	sc.NoSecurity = true
	if cfg.NodeID != ([20]byte{}) {
		sc.NodeId = krpc.ID(cfg.NodeID)
	}
	sc.PeerStore = cfg.PeerStore
	sc.StartingNodes = n.startingNodes
	sc.SendLimiter = rate.NewLimiter(rate.Limit(cfg.SendRate), cfg.SendBurst)
	sc.Logger = libLogger(cfg.Logger)
	sc.Store = nil // the filter refuses BEP 44 put/get; nothing is stored
	if public {
		sc.IPBlocklist = localRanges{}
	}
	sc.OnQuery = func(m *krpc.Msg, _ net.Addr) bool {
		// CheckKRPC already refused these; this is defence in depth
		// against the library's nil dereferences.
		return m.A != nil && m.Q != "put" && m.Q != "get"
	}
	srv, err := adht.NewServer(sc)
	if err != nil {
		n.conn.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	n.srv = srv
	n.root, n.cancel = context.WithCancel(context.Background())
	n.wg.Go(n.maintain)
	return n, nil
}

// decidePublic applies the address policy.
func decidePublic(p AddrPolicy, bootstrap []string, listen netip.Addr) bool {
	switch p {
	case AddrPolicyPublic:
		return true
	case AddrPolicyLocal:
		return false
	}
	if len(bootstrap) == 0 {
		l := listen.Unmap()
		return !l.IsValid() || l.IsUnspecified() || !IsLocal(l)
	}
	for _, b := range bootstrap {
		host, _, _ := net.SplitHostPort(b)
		if host == "localhost" {
			continue
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !IsLocal(a) {
			return true
		}
	}
	return false
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%w %q: %v", ErrBadBootstrap, s, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 || host == "" {
		return fmt.Errorf("%w %q: want HOST:PORT with a port in 1..65535", ErrBadBootstrap, s)
	}
	return nil
}

// localRanges is the library's IP blocklist under AddrPolicyPublic: it
// keeps traversals from spending queries on local addresses.
type localRanges struct{}

func (localRanges) Lookup(ip net.IP) (iplist.Range, bool) {
	if IsLocal(ipAddr(ip)) {
		return iplist.Range{First: ip, Last: ip, Description: "local address on the public DHT"}, true
	}
	return iplist.Range{}, false
}

func (localRanges) NumRanges() int { return len(localPrefixes) }

// libLogger forwards the library's messages of level Info and above to
// logger at debug level (they are about remote nodes, not about us).
func libLogger(logger *slog.Logger) alog.Logger {
	l := alog.NewLogger("dht")
	l.SetHandlers(libHandler{logger})
	return l.FilterLevel(alog.Info)
}

type libHandler struct{ l *slog.Logger }

func (h libHandler) Handle(r alog.Record) {
	h.l.Debug(r.Msg.String(), "lib_level", r.Level.LogString())
}

// startingNodes is the library's fallback when the routing table is empty.
func (n *Node) startingNodes() ([]adht.Addr, error) {
	addrs := *n.starting.Load()
	if len(addrs) == 0 {
		return nil, errors.New("no bootstrap nodes")
	}
	return addrs, nil
}

// maintain runs for the node's life: load saved nodes, resolve the
// bootstrap routers, bootstrap, then hand the table to the library's
// maintainer and save the table every SaveInterval.
func (n *Node) maintain() {
	res := n.firstBootstrap()
	n.bootResult = res
	n.bootstrapped.Store(true)
	close(n.bootDone)
	if n.root.Err() != nil {
		return
	}
	save := time.NewTicker(n.cfg.SaveInterval)
	defer save.Stop()
	check := time.NewTicker(waitCheck)
	defer check.Stop()
	maintaining := false
	for {
		// The library's maintainer bootstraps at once, and its bootstrap
		// leaks a goroutine when it has no node to start from: start it
		// only once there is one.
		if !maintaining && n.canTraverse() {
			maintaining = true
			n.wg.Go(n.srv.TableMaintainer)
		}
		n.wakeWaiters()
		select {
		case <-n.root.Done():
			return
		case <-n.nodeAdded:
		case <-check.C:
		case <-save.C:
			if err := n.SaveNodes(); err != nil {
				n.logger.Warn("dht: saving nodes", "err", err)
			}
		}
	}
}

// waitCheck is how often the maintain loop looks at the routing table
// (besides AddNode's nudges): to start the library's maintainer, and to
// wake the searches waiting for a node (whenNodes).
const waitCheck = 15 * time.Second

// hasNodes reports whether the routing table has a node.
func (n *Node) hasNodes() bool { return n.srv.NumNodes() > 0 }

// whenNodes calls wake once, from the node's maintenance goroutine, when
// the routing table next has a node (within waitCheck of it getting one,
// at once after an AddNode that added one); forget cancels that. It lets
// every torrent whose search found an empty table wait on the node's one
// goroutine instead of a retry timer of its own: a client with thousands of
// torrents and no reachable node stays idle.
func (n *Node) whenNodes(wake func()) (forget func()) { return n.waiting.add(wake) }

// wakeWaiters calls the whenNodes waiters once the table has a node.
func (n *Node) wakeWaiters() {
	if n.waiting.len() > 0 && n.hasNodes() {
		n.waiting.wake()
	}
}

// wakeList is a set of functions to call once: add registers one (forget
// takes it back), wake calls and forgets all those registered.
type wakeList struct {
	mu  sync.Mutex
	fns map[uint64]func()
	seq uint64
}

func (w *wakeList) add(fn func()) (forget func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = make(map[uint64]func())
	}
	w.seq++
	id := w.seq
	w.fns[id] = fn
	return func() {
		w.mu.Lock()
		delete(w.fns, id)
		w.mu.Unlock()
	}
}

func (w *wakeList) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.fns)
}

func (w *wakeList) wake() {
	w.mu.Lock()
	fns := w.fns
	w.fns = nil
	w.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// canTraverse reports whether a traversal has somewhere to start.
func (n *Node) canTraverse() bool {
	return n.srv.NumNodes() > 0 || len(*n.starting.Load()) > 0
}

func (n *Node) firstBootstrap() BootstrapResult {
	var res BootstrapResult
	if n.cfg.Nodes != nil {
		b, err := n.cfg.Nodes.LoadNodes()
		var nodes []NodeInfo
		if err == nil {
			nodes, err = DecodeNodes(b)
		}
		if err != nil {
			n.logger.Warn("dht: loading saved nodes", "err", err)
		}
		for _, ni := range nodes {
			if n.allowed(ni.Addr) && n.srv.AddNode(krpc.NodeInfo{ID: ni.ID, Addr: krpc.NodeAddr{IP: ni.Addr.Addr().AsSlice(), Port: int(ni.Addr.Port())}}) == nil {
				res.SavedNodes++
			}
		}
	}
	n.resolveBootstrap()
	if !n.canTraverse() {
		res.Err = errors.New("dht: no saved or bootstrap nodes")
		return res
	}
	st, err := n.srv.BootstrapContext(n.root)
	res.Tried, res.Responses = int(st.NumAddrsTried), int(st.NumResponses)
	if err == nil && res.SavedNodes > 0 && st.NumResponses == 0 && len(*n.starting.Load()) > 0 {
		// The saved nodes are gone: the library only falls back on the
		// routers when the table is empty, so ask them directly.
		for _, a := range *n.starting.Load() {
			n.srv.Ping(a.Raw().(*net.UDPAddr))
		}
		st, err = n.srv.BootstrapContext(n.root)
		res.Tried += int(st.NumAddrsTried)
		res.Responses += int(st.NumResponses)
	}
	res.Err = err
	res.Nodes = n.srv.NumNodes()
	if err != nil && n.root.Err() == nil {
		n.logger.Warn("dht: bootstrap", "err", err)
	}
	return res
}

// resolveBootstrap resolves the bootstrap routers (IP literals at once,
// names through the resolver, each bounded in time), keeping the addresses
// the socket can reach and the policy allows.
func (n *Node) resolveBootstrap() {
	var addrs []adht.Addr
	for _, hp := range n.bootstrap {
		host, portStr, _ := net.SplitHostPort(hp)
		port, _ := strconv.ParseUint(portStr, 10, 16)
		var ips []netip.Addr
		if a, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{a}
		} else {
			ctx, cancel := context.WithTimeout(n.root, resolveTimeout)
			ips, err = n.cfg.Resolver.LookupNetIP(ctx, "ip", host)
			cancel()
			if err != nil {
				n.logger.Warn("dht: resolving bootstrap router", "router", hp, "err", err)
				continue
			}
		}
		for _, ip := range ips {
			ap := netip.AddrPortFrom(ip.Unmap(), uint16(port))
			if n.allowed(ap) {
				addrs = append(addrs, adht.NewAddr(net.UDPAddrFromAddrPort(ap)))
			}
		}
	}
	n.starting.Store(&addrs)
}

// allowed reports whether the node may talk to ap: usable under the
// policy and of the socket's family.
func (n *Node) allowed(ap netip.AddrPort) bool {
	if !usableAddr(ap, n.public) {
		return false
	}
	return !n.v4 || ap.Addr().Unmap().Is4()
}

// WaitBootstrap waits until the node's first bootstrap has finished (or
// ctx ends) and returns its outcome.
func (n *Node) WaitBootstrap(ctx context.Context) (BootstrapResult, error) {
	select {
	case <-n.bootDone:
		return n.bootResult, nil
	case <-ctx.Done():
		return BootstrapResult{}, ctx.Err()
	}
}

// Bootstrap runs a bootstrap now (a find_node traversal toward our own id
// from the routing table, or the routers when it is empty), which refills
// the table; the node does this itself every 30 minutes. It waits for the
// traversal (or ctx).
func (n *Node) Bootstrap(ctx context.Context) (BootstrapResult, error) {
	if n.closed.Load() {
		return BootstrapResult{}, ErrClosed
	}
	if !n.canTraverse() {
		return BootstrapResult{}, errors.New("dht: no nodes to bootstrap from")
	}
	st, err := n.srv.BootstrapContext(ctx)
	res := BootstrapResult{Tried: int(st.NumAddrsTried), Responses: int(st.NumResponses), Nodes: n.srv.NumNodes(), Err: err}
	return res, err
}

// Addr returns the node's UDP address.
func (n *Node) Addr() netip.AddrPort { return addrPortOf(n.conn.LocalAddr()) }

// ID returns the node's id.
func (n *Node) ID() [20]byte { return n.srv.ID() }

// Public reports whether the node runs under AddrPolicyPublic.
func (n *Node) Public() bool { return n.public }

// PeerStore returns the store that serves get_peers.
func (n *Node) PeerStore() *PeerStore { return n.store }

// AddNode adds a node learned outside the DHT (the port of a peer's BEP 5
// PORT message, at the peer's IP): it is pinged, and enters the routing
// table if it answers. It returns at once: ErrAddrRefused for an address
// the policy refuses, ErrBusy while 32 pings are pending, ErrClosed after
// Close.
func (n *Node) AddNode(addr netip.AddrPort) error {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if n.closed.Load() {
		return ErrClosed
	}
	if !n.allowed(addr) {
		return ErrAddrRefused
	}
	select {
	case n.pings <- struct{}{}:
	default:
		return ErrBusy
	}
	n.wg.Go(func() {
		defer func() { <-n.pings }()
		ctx, cancel := context.WithTimeout(n.root, 10*time.Second)
		defer cancel()
		n.srv.Query(ctx, adht.NewAddr(net.UDPAddrFromAddrPort(addr)), "ping", adht.QueryInput{})
		select {
		case n.nodeAdded <- struct{}{}:
		default:
		}
	})
	return nil
}

// Ping sends a ping query to addr and waits for the answer (or ctx). It
// returns the answering node's id.
func (n *Node) Ping(ctx context.Context, addr netip.AddrPort) ([20]byte, error) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	if n.closed.Load() {
		return [20]byte{}, ErrClosed
	}
	if !n.allowed(addr) {
		return [20]byte{}, ErrAddrRefused
	}
	res := n.srv.Query(ctx, adht.NewAddr(net.UDPAddrFromAddrPort(addr)), "ping", adht.QueryInput{NumTries: 3})
	if err := res.ToError(); err != nil {
		return [20]byte{}, fmt.Errorf("dht: ping %v: %w", addr, err)
	}
	if res.Reply.R == nil {
		return [20]byte{}, fmt.Errorf("dht: ping %v: answer without a result", addr)
	}
	return res.Reply.R.ID, nil
}

// Nodes returns the routing table's nodes that are not known to be bad.
func (n *Node) Nodes() []NodeInfo {
	var out []NodeInfo
	for _, ni := range n.srv.Nodes() {
		ap := netip.AddrPortFrom(ipAddr(ni.Addr.IP), uint16(ni.Addr.Port))
		if ni.Addr.Port > 0 && ni.Addr.Port < 1<<16 && usableAddr(ap, false) {
			out = append(out, NodeInfo{ID: ni.ID, Addr: ap})
		}
	}
	return out
}

// SaveNodes saves the routing table to the NodeStore now (a no-op without
// one). An empty table is not saved, so a node that never reached the
// network keeps the nodes saved by an earlier run.
func (n *Node) SaveNodes() error {
	if n.cfg.Nodes == nil {
		return nil
	}
	nodes := n.Nodes()
	if len(nodes) == 0 {
		return nil
	}
	return n.cfg.Nodes.SaveNodes(EncodeNodes(nodes))
}

// Stats is a snapshot of a node.
type Stats struct {
	GoodNodes          int               // nodes that answered recently
	Nodes              int               // routing table size
	OutstandingQueries int               // queries awaiting an answer
	QueriesSent        int64             // queries attempted since start
	AnnouncesAccepted  int64             // our announce_peer queries that got an answer
	Dropped            map[string]uint64 // datagrams dropped before the library, by DropReason name
	PeerStore          PeerStoreStats
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats {
	s := n.srv.Stats()
	return Stats{
		GoodNodes: s.GoodNodes, Nodes: s.Nodes, OutstandingQueries: s.OutstandingTransactions,
		QueriesSent: s.OutboundQueriesAttempted, AnnouncesAccepted: s.SuccessfulOutboundAnnouncePeerQueries,
		Dropped: n.filter.droppedCounts(), PeerStore: n.store.Stats(),
	}
}

// Close stops the node: searches in flight end, the routing table is saved
// (when a NodeStore is set), and the socket is closed. It waits (up to 10
// s) for the node's goroutines. Calls after the first return nil. Stop the
// Announcers that use the node first.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		if n.bootstrapped.Load() {
			err = n.SaveNodes()
		}
		n.closed.Store(true)
		n.cancel()
		n.srv.Close()
		if cerr := n.conn.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
		done := make(chan struct{})
		go func() {
			n.wg.Wait()
			<-n.conn.idle
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(closeWait):
			n.logger.Warn("dht: goroutines still running after close")
		}
	})
	return err
}
