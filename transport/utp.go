package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/utp"
)

// Mode says which transports outgoing connections use. Incoming
// connections are accepted on both whatever the mode (the listener's uTP
// sockets also carry the DHT).
type Mode uint8

// Modes of a Dialer.
const (
	// Both (the zero value) prefers uTP, as libtorrent does: a peer not
	// known yet is dialled over uTP at once and over TCP too after
	// UTPHeadStart without an answer, and the first connection wins; what
	// won is remembered per address, so later dials use it alone (a peer
	// known to speak uTP that fails it is tried over TCP next). A peer
	// without uTP costs the head start once, instead of libtorrent's
	// seconds of SYN retries.
	Both Mode = iota
	// TCP dials TCP only.
	TCP
	// UTP dials uTP only.
	UTP
)

var modeNames = [...]string{"both", "tcp", "utp"}

// String returns "both", "tcp" or "utp".
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses "both", "tcp" or "utp".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("%w %q: want tcp, utp or both", ErrBadMode, s)
}

// Set implements flag.Value (and pflag.Value).
func (m *Mode) Set(s string) error {
	v, err := ParseMode(s)
	if err == nil {
		*m = v
	}
	return err
}

// Type implements pflag.Value.
func (m *Mode) Type() string { return "tcp|utp|both" }

// Both mode's timing for a peer not known yet (see Dialer.race).
const (
	// UTPHeadStart is how long uTP has alone before TCP is dialled too.
	UTPHeadStart = 500 * time.Millisecond
	// UTPFirstTimeout bounds the uTP attempt: room for the SYN and one
	// retransmission (uTP retransmits a SYN after 1 s, then 2 s).
	UTPFirstTimeout = 3 * time.Second
)

// Transport names of Name.
const (
	NameTCP = "tcp"
	NameUTP = "utp"
)

// Name returns the transport under a peer connection: "utp" for a uTP
// connection (bare or under MSE), else "tcp".
func Name(c net.Conn) string {
	if mc, ok := c.(*mse.Conn); ok {
		c = mc.NetConn()
	}
	if _, ok := c.(*utp.Conn); ok {
		return NameUTP
	}
	return NameTCP
}

// listenPorts opens the TCP listener and, with cfg.UTP, the uTP sockets on the
// same port number: one per address family the address allows (an
// unspecified host gets udp4 and, where the host has IPv6, udp6; the IPv4
// socket comes first). When the port is 0 and the UDP port of the TCP port
// picked is taken, it tries again with another.
func listenPorts(cfg ListenConfig) (net.Listener, []*utp.Socket, error) {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("transport: listen %s: %w", cfg.Addr, err)
	}
	const tries = 16
	for i := 0; ; i++ {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, nil, fmt.Errorf("transport: listen %s: %w", cfg.Addr, err)
		}
		if !cfg.UTP {
			return ln, nil, nil
		}
		p := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		socks, err := listenUTP(host, p, cfg.UTPConfig)
		if err == nil {
			return ln, socks, nil
		}
		ln.Close()
		if port != "0" || i == tries-1 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, nil, fmt.Errorf("transport: uTP on UDP port %s: %w", p, err)
		}
	}
}

// listenUTP opens the uTP sockets of host:port (see listenPorts). The socket
// of a second family is optional: a host without IPv6 gets uTP over IPv4
// only.
func listenUTP(host, port string, cfg utp.Config) ([]*utp.Socket, error) {
	type want struct{ network, host string }
	var ws []want
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "" || ip.IsUnspecified() && ip.Is6():
		// IPv4 first: the DHT runs on the first socket, and the Mainline
		// DHT is IPv4 (a dual-stack socket would make it IPv6).
		ws = []want{{"udp4", "0.0.0.0"}, {"udp6", "::"}}
	case err != nil:
		ws = []want{{"udp", host}} // a host name
	case ip.Unmap().Is4():
		ws = []want{{"udp4", ip.Unmap().String()}}
	default:
		ws = []want{{"udp6", host}}
	}
	var socks []*utp.Socket
	for i, w := range ws {
		s, err := utp.Listen(w.network, net.JoinHostPort(w.host, port), cfg)
		if err != nil {
			if i > 0 && !errors.Is(err, syscall.EADDRINUSE) {
				continue
			}
			for _, o := range socks {
				o.Close()
			}
			return nil, err
		}
		socks = append(socks, s)
	}
	return socks, nil
}

// UTPSockets returns the listener's uTP sockets, IPv4 first (none without
// ListenConfig.UTP). They carry incoming and outgoing uTP connections and,
// through PacketConn, the DHT; the listener closes them at Close.
func (l *Listener) UTPSockets() []*utp.Socket { return l.utp }

// SetUTP makes the dialer dial uTP through these sockets (a listener's
// UTPSockets: outgoing uTP connections leave from the listening port, as
// peers expect). Call it before the first dial.
func (d *Dialer) SetUTP(socks ...*utp.Socket) { d.utp = socks }

// SetMode sets which transports outgoing connections use, from the next
// dial. Without uTP sockets (SetUTP) every mode dials TCP; with some but
// none of a peer's address family, Both dials it over TCP and UTP fails
// with ErrNoUTP.
func (d *Dialer) SetMode(m Mode) { d.mode.Store(uint32(m)) }

// HintUTP records that the peer at a speaks uTP (a PEX entry with the uTP
// flag, BEP 11's 0x04): under Both it is dialled over uTP without the
// short first timeout, even if uTP failed there before.
func (d *Dialer) HintUTP(a netip.AddrPort) { d.paths.set(unmap(a), pathUTP) }

// PrefersUTP reports whether a is remembered as speaking uTP.
func (d *Dialer) PrefersUTP(a netip.AddrPort) bool { return d.paths.get(unmap(a)) == pathUTP }

// utpFor returns the uTP socket of a's address family, or nil.
func (d *Dialer) utpFor(a netip.AddrPort) *utp.Socket {
	v4 := a.Addr().Unmap().Is4()
	for _, s := range d.utp {
		if ua, ok := s.Addr().(*net.UDPAddr); ok && (ua.IP.To4() != nil) == v4 {
			return s
		}
	}
	return nil
}

// dialTransport makes the connection under a handshake, by the mode.
func (d *Dialer) dialTransport(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
	a = unmap(a)
	mode := Mode(d.mode.Load())
	s := d.utpFor(a)
	switch {
	case mode == TCP || len(d.utp) == 0:
		return d.dialTCP(ctx, a)
	case s == nil && mode == UTP:
		return nil, fmt.Errorf("%w: %v", ErrNoUTP, a)
	case s == nil:
		return d.dialTCP(ctx, a) // no uTP socket of the peer's family
	case mode == UTP:
		return dialUTP(ctx, s, a)
	}
	switch d.paths.get(a) {
	case pathTCP:
		return d.dialTCP(ctx, a)
	case pathUTP:
		c, err := dialUTP(ctx, s, a)
		if err == nil || ctx.Err() != nil {
			return c, err
		}
		tc, terr := d.dialTCP(ctx, a)
		if terr != nil {
			return nil, fmt.Errorf("%w (after uTP: %v)", terr, err)
		}
		d.paths.set(a, pathTCP)
		return tc, nil
	}
	return d.race(ctx, s, a)
}

// race dials a peer not known yet: uTP at once (for at most
// UTPFirstTimeout), TCP once uTP has failed or after UTPHeadStart without
// an answer; the first connection made wins and the other dial is
// cancelled (or its connection closed). The transport that won is
// remembered. A uTP peer answers within a round trip, so TCP wins only
// where uTP gets no answer: the head start is what a peer without uTP
// costs, and only once.
func (d *Dialer) race(ctx context.Context, s *utp.Socket, a netip.AddrPort) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		c   net.Conn
		err error
		utp bool
	}
	results := make(chan result, 2)
	go func() {
		uctx, ucancel := context.WithTimeout(ctx, d.first)
		defer ucancel()
		c, err := dialUTP(uctx, s, a)
		results <- result{c, err, true}
	}()
	head := time.NewTimer(d.headStart)
	defer head.Stop()
	pending, tcpStarted := 1, false
	startTCP := func() {
		tcpStarted = true
		pending++
		go func() {
			c, err := d.dialTCP(ctx, a)
			results <- result{c, err, false}
		}()
	}
	var utpErr, tcpErr error
	for pending > 0 {
		select {
		case <-head.C:
			if !tcpStarted {
				startTCP()
			}
		case r := <-results:
			pending--
			if r.err == nil {
				cancel()
				for ; pending > 0; pending-- { // the loser returns at once
					if late := <-results; late.c != nil {
						late.c.Close()
					}
				}
				d.paths.set(a, map[bool]pathState{true: pathUTP, false: pathTCP}[r.utp])
				return r.c, nil
			}
			if r.utp {
				utpErr = r.err
				if !tcpStarted {
					startTCP()
				}
			} else {
				tcpErr = r.err
			}
		}
	}
	// Neither answered: the peer is down, which says nothing of uTP.
	return nil, fmt.Errorf("%w (and uTP: %v)", tcpErr, utpErr)
}

func dialUTP(ctx context.Context, s *utp.Socket, a netip.AddrPort) (net.Conn, error) {
	c, err := s.DialAddrPort(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("utp: dial %v: %w", a, err)
	}
	return c, nil
}

func (d *Dialer) dialTCP(ctx context.Context, a netip.AddrPort) (net.Conn, error) {
	nd := net.Dialer{LocalAddr: d.local}
	return nd.DialContext(ctx, "tcp", a.String())
}

func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
