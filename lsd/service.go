package lsd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/time/rate"
)

// Defaults of Config (BEP 14).
const (
	DefaultInterval = 5 * time.Minute // each torrent
	DefaultGap      = time.Minute     // between two messages
	// DefaultReceiveRate bounds the announces handled per second (burst
	// twice that); the excess is dropped unread.
	DefaultReceiveRate = 20
)

// ErrNoMulticast is returned by New when no address family could join its
// group (no multicast-capable interface, or the kernel refuses).
var ErrNoMulticast = errors.New("lsd: no multicast group could be joined")

// Config configures a Service.
type Config struct {
	// Port is the peer port we announce (required).
	Port uint16
	// OnPeer receives each (info-hash, peer) heard from another host, from
	// a receive goroutine, never after Close returns. It must not block
	// for long. Info-hashes we do not have are delivered too: the caller
	// filters.
	OnPeer func(infoHash [20]byte, peer netip.AddrPort)
	// Interface is the interface to announce and listen on (nil: the
	// system's choice for multicast).
	Interface *net.Interface
	// NoIPv4 and NoIPv6 leave a family out. By default both are tried and
	// a family whose group cannot be joined is skipped (logged).
	NoIPv4, NoIPv6 bool
	// Interval is how often each torrent is announced (5 min); Gap the
	// least time between two messages (1 min).
	Interval, Gap time.Duration
	// ReceiveRate bounds the announces handled per second
	// (DefaultReceiveRate).
	ReceiveRate float64
	// Logger receives warnings (default: discard).
	Logger *slog.Logger
}

// Service is BEP 14 local service discovery: it announces the torrents
// added to it on the local network (multicast 239.192.152.143:6771 and
// [ff15::efc0:988f]:6771) and delivers the peers others announce. Our own
// announces, which multicast loops back, are recognised by a random cookie
// and ignored. Private torrents (BEP 27) must never be added: the client
// keeps them off LSD. Its methods are safe for concurrent use.
type Service struct {
	cfg     Config
	cookie  string
	fams    []*family
	limiter *rate.Limiter

	mu    sync.Mutex
	sched *schedule
	wake  chan struct{}

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	sent, received, own, malformed, dropped, delivered atomic.Uint64
}

type family struct {
	name  string
	recv  *net.UDPConn
	send  *net.UDPConn
	group *net.UDPAddr
	host  string
}

// New joins the groups and starts announcing (nothing until Add) and
// listening. ctx bounds only the start. The caller must call Close.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Port == 0 {
		return nil, errors.New("lsd: Config.Port is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Gap <= 0 {
		cfg.Gap = DefaultGap
	}
	if cfg.ReceiveRate <= 0 {
		cfg.ReceiveRate = DefaultReceiveRate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var c [8]byte
	rand.Read(c[:])
	s := &Service{cfg: cfg, cookie: hex.EncodeToString(c[:]), sched: newSchedule(cfg.Interval, cfg.Gap),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		limiter: rate.NewLimiter(rate.Limit(cfg.ReceiveRate), int(2*cfg.ReceiveRate))}
	if !cfg.NoIPv4 {
		f, err := openFamily("udp4", Group4, cfg.Interface)
		if err != nil {
			cfg.Logger.Warn("lsd: IPv4 group not joined", "err", err)
		} else {
			s.fams = append(s.fams, f)
		}
	}
	if !cfg.NoIPv6 {
		f, err := openFamily("udp6", Group6, cfg.Interface)
		if err != nil {
			cfg.Logger.Debug("lsd: IPv6 group not joined", "err", err)
		} else {
			s.fams = append(s.fams, f)
		}
	}
	if len(s.fams) == 0 {
		return nil, ErrNoMulticast
	}
	for _, f := range s.fams {
		s.wg.Go(func() { s.receive(f) })
	}
	s.wg.Go(s.announce)
	return s, nil
}

func openFamily(network string, group *net.UDPAddr, ifi *net.Interface) (*family, error) {
	recv, err := net.ListenMulticastUDP(network, ifi, group)
	if err != nil {
		return nil, err
	}
	send, err := net.ListenUDP(network, nil)
	if err != nil {
		recv.Close()
		return nil, err
	}
	f := &family{name: network, recv: recv, send: send, group: group, host: group.String()}
	if network == "udp4" {
		p := ipv4.NewPacketConn(send)
		err = p.SetMulticastLoopback(true) // other programs on this host hear us
		if err == nil && ifi != nil {
			err = p.SetMulticastInterface(ifi)
		}
	} else {
		p := ipv6.NewPacketConn(send)
		err = p.SetMulticastLoopback(true)
		if err == nil && ifi != nil {
			err = p.SetMulticastInterface(ifi)
		}
	}
	if err != nil {
		recv.Close()
		send.Close()
		return nil, err
	}
	return f, nil
}

// Add announces infoHash from now on (at the next message: at once unless
// one went out less than Gap ago). Adding it again changes nothing.
func (s *Service) Add(infoHash [20]byte) {
	s.mu.Lock()
	s.sched.add(infoHash, time.Now())
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Remove stops announcing infoHash.
func (s *Service) Remove(infoHash [20]byte) {
	s.mu.Lock()
	s.sched.remove(infoHash)
	s.mu.Unlock()
}

// announce sends the scheduled messages until Close.
func (s *Service) announce() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		s.mu.Lock()
		ihs := s.sched.take(now)
		next := s.sched.next()
		s.mu.Unlock()
		if len(ihs) > 0 {
			s.send(ihs)
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

func (s *Service) send(ihs [][20]byte) {
	for _, f := range s.fams {
		b := Message{Host: f.host, Port: s.cfg.Port, InfoHashes: ihs, Cookie: s.cookie}.Append(nil)
		if _, err := f.send.WriteToUDP(b, f.group); err != nil {
			s.cfg.Logger.Debug("lsd: announce failed", "family", f.name, "err", err)
			continue
		}
		s.sent.Add(1)
	}
}

// receive reads one family's group until Close.
func (s *Service) receive(f *family) {
	buf := make([]byte, MaxMessage+1)
	for {
		n, src, err := f.recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.cfg.Logger.Warn("lsd: receive failed; this family stops listening", "family", f.name, "err", err)
			return
		}
		s.received.Add(1)
		if !s.limiter.Allow() {
			s.dropped.Add(1)
			continue
		}
		m, err := ParseMessage(buf[:n])
		if err != nil {
			s.malformed.Add(1)
			continue
		}
		if m.Cookie == s.cookie {
			s.own.Add(1)
			continue
		}
		peer := netip.AddrPortFrom(src.Addr().Unmap(), m.Port)
		if !peer.Addr().IsValid() || peer.Addr().IsUnspecified() || peer.Addr().IsMulticast() {
			s.malformed.Add(1)
			continue
		}
		for _, ih := range m.InfoHashes {
			select {
			case <-s.done:
				return
			default:
			}
			s.delivered.Add(1)
			if s.cfg.OnPeer != nil {
				s.cfg.OnPeer(ih, peer)
			}
		}
	}
}

// Stats counts a service's traffic.
type Stats struct {
	Families  []string // the families whose group was joined ("udp4", "udp6")
	Sent      uint64   // messages sent (one per family per announce)
	Received  uint64   // datagrams received
	Own       uint64   // our own announces, looped back
	Malformed uint64   // datagrams that were not BEP 14 announces
	Dropped   uint64   // announces past the receive rate
	Delivered uint64   // (info-hash, peer) pairs given to OnPeer
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	st := Stats{Sent: s.sent.Load(), Received: s.received.Load(), Own: s.own.Load(),
		Malformed: s.malformed.Load(), Dropped: s.dropped.Load(), Delivered: s.delivered.Load()}
	for _, f := range s.fams {
		st.Families = append(st.Families, f.name)
	}
	return st
}

// Close leaves the groups, closes the sockets and waits for the service's
// goroutines. Calls after the first return nil.
func (s *Service) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		for _, f := range s.fams {
			err = errors.Join(err, f.recv.Close(), f.send.Close())
		}
		s.wg.Wait()
		if err != nil {
			err = fmt.Errorf("lsd: close: %w", err)
		}
	})
	return err
}
