package tracker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"time"
)

// udpSession is one UDP request to one tracker: a connected socket, the
// retransmission counter n (shared by connect and the request, as BEP 15's
// schedule is per request) and a read buffer. Datagrams with another
// transaction id, or too short to hold a header, are ignored. An error
// action becomes a *FailureError.
type udpSession struct {
	c       *Client
	key     string // tracker address, the connection-id cache key
	conn    UDPConn
	url     string
	attempt int
	buf     []byte
	stop    func() bool
	cached  bool // the connection id in use came from the cache
	retried bool // a tracker error already caused one fresh connect
}

func (c *Client) dialUDP(ctx context.Context, u *url.URL) (*udpSession, error) {
	dial := c.opts.DialUDP
	if dial == nil {
		dial = func(ctx context.Context, network, address string) (UDPConn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, address)
			if err != nil {
				return nil, err
			}
			return conn.(*net.UDPConn), nil
		}
	}
	conn, err := dial(ctx, "udp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("tracker %s: %w", redact(u.Redacted()), err)
	}
	if ua, ok := conn.RemoteAddr().(*net.UDPAddr); ok {
		if a, ok := netip.AddrFromSlice(ua.IP); ok && (a.IsUnspecified() || a.IsMulticast()) {
			conn.Close()
			return nil, fmt.Errorf("%w: %v", ErrForbiddenAddress, a)
		}
	}
	s := &udpSession{c: c, conn: conn, url: redact(u.Redacted()), buf: make([]byte, UDPMaxPacket)}
	s.key = conn.RemoteAddr().String()
	// A deadline in the past wakes a blocked Read as soon as ctx ends.
	s.stop = context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	return s, nil
}

func (s *udpSession) close() {
	s.stop()
	s.conn.Close()
}

// ipv6 reports whether the tracker is reached over IPv6, which makes its
// announce responses carry 18-byte peers.
func (s *udpSession) ipv6() bool {
	if ua, ok := s.conn.RemoteAddr().(*net.UDPAddr); ok {
		if a, ok := netip.AddrFromSlice(ua.IP); ok {
			return !a.Unmap().Is4()
		}
	}
	return false
}

func (s *udpSession) timeout() time.Duration {
	return s.c.opts.UDPBase << s.attempt
}

// roundTrip writes pkt and reads until a response with tid arrives or the
// current attempt's timeout passes (then it returns errRetransmit).
func (s *udpSession) roundTrip(ctx context.Context, pkt []byte, tid uint32) ([]byte, error) {
	if _, err := s.conn.Write(pkt); err != nil {
		return nil, s.ctxErr(ctx, fmt.Errorf("tracker %s: %w", s.url, err))
	}
	deadline := time.Now().Add(s.timeout())
	ctxBound := false
	if d, ok := ctx.Deadline(); ok && !d.After(deadline) {
		deadline, ctxBound = d, true
	}
	if err := s.conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	for {
		n, err := s.conn.Read(s.buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, s.ctxErr(ctx, err)
			}
			if ctxBound && !time.Now().Before(deadline) {
				// ctx's own timer may not have fired yet at this very instant.
				return nil, fmt.Errorf("tracker %s: %w", s.url, context.DeadlineExceeded)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return nil, errRetransmit
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, errRetransmit
			}
			// ICMP port unreachable and the like: treat as a lost packet.
			if !time.Now().Before(deadline) {
				return nil, errRetransmit
			}
			continue
		}
		h, err := ParseUDPHeader(s.buf[:n])
		if err != nil || h.TransactionID != tid {
			continue // not ours: stray, late, or spoofed
		}
		if h.Action == ActionError {
			return nil, &FailureError{URL: s.url, Reason: ParseUDPError(s.buf[:n])}
		}
		return s.buf[:n], nil
	}
}

var errRetransmit = errors.New("retransmit")

func (s *udpSession) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("tracker %s: %w", s.url, context.Cause(ctx))
	}
	return err
}

// next advances the retransmission counter; false once the schedule is exhausted.
func (s *udpSession) next() bool {
	if s.attempt >= s.c.opts.UDPRetries {
		return false
	}
	s.attempt++
	return true
}

// connectionID returns a cached connection id younger than a minute, or
// connects to get a new one.
func (s *udpSession) connectionID(ctx context.Context) (uint64, error) {
	c := s.c
	c.mu.Lock()
	cid, ok := c.connIDs[s.key]
	c.mu.Unlock()
	if ok && time.Since(cid.got) < UDPConnectionIDLifetime {
		s.cached = true
		return cid.id, nil
	}
	s.cached = false
	for {
		tid := randUint32()
		resp, err := s.roundTrip(ctx, AppendUDPConnectRequest(nil, tid), tid)
		if err == errRetransmit {
			if !s.next() {
				return 0, fmt.Errorf("tracker %s: connect: %w", s.url, ErrTimeout)
			}
			continue
		}
		if err != nil {
			return 0, err
		}
		h, _ := ParseUDPHeader(resp)
		if h.Action != ActionConnect {
			return 0, &ParseError{Field: "connect response", Msg: fmt.Sprintf("action %d", h.Action)}
		}
		id, err := ParseUDPConnectResponse(resp)
		if err != nil {
			return 0, err
		}
		c.mu.Lock()
		if len(c.connIDs) > 4096 { // bound the cache; it only saves a round trip
			clear(c.connIDs)
		}
		c.connIDs[s.key] = connID{id: id, got: time.Now()}
		c.mu.Unlock()
		return id, nil
	}
}

// forget drops the cached connection id (after a tracker error, which may
// mean the id was refused).
func (s *udpSession) forget() {
	s.c.mu.Lock()
	delete(s.c.connIDs, s.key)
	s.c.mu.Unlock()
}

// exchange runs one request with retransmission; build makes the packet for
// a connection id and transaction id; want is the expected response action.
func (s *udpSession) exchange(ctx context.Context, want uint32, build func(cid uint64, tid uint32) []byte) ([]byte, error) {
	for {
		cid, err := s.connectionID(ctx)
		if err != nil {
			return nil, err
		}
		tid := randUint32()
		resp, err := s.roundTrip(ctx, build(cid, tid), tid)
		if err == errRetransmit {
			if !s.next() {
				return nil, fmt.Errorf("tracker %s: %w", s.url, ErrTimeout)
			}
			continue
		}
		var fe *FailureError
		if errors.As(err, &fe) {
			s.forget()
			if s.cached && !s.retried {
				// The tracker may have restarted and forgotten a cached id:
				// connect afresh once before believing the error.
				s.retried = true
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		h, _ := ParseUDPHeader(resp)
		if h.Action != want {
			return nil, &ParseError{Field: "udp response", Msg: fmt.Sprintf("action %d, want %d", h.Action, want)}
		}
		return resp, nil
	}
}

func (c *Client) announceUDP(ctx context.Context, u *url.URL, req *AnnounceRequest) (*AnnounceResponse, error) {
	s, err := c.dialUDP(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.close()
	a := UDPAnnounce{
		InfoHash:   req.InfoHash,
		PeerID:     req.PeerID,
		Downloaded: max(req.Downloaded, 0),
		Left:       max(req.Left, 0),
		Uploaded:   max(req.Uploaded, 0),
		Event:      req.Event,
		Key:        req.Key,
		NumWant:    numWant(req),
		Port:       req.Port,
	}
	if ip, err := netip.ParseAddr(req.IP); err == nil && ip.Unmap().Is4() {
		a.IP = ip.Unmap().As4()
	}
	resp, err := s.exchange(ctx, ActionAnnounce, func(cid uint64, tid uint32) []byte {
		a.ConnectionID, a.TransactionID = cid, tid
		return AppendUDPAnnounceRequest(make([]byte, 0, UDPAnnounceRequestLen), &a)
	})
	if err != nil {
		return nil, err
	}
	r, err := ParseUDPAnnounceResponse(resp, s.ipv6(), c.opts.MaxPeers)
	if err != nil {
		return nil, err
	}
	return &AnnounceResponse{
		Interval:   time.Duration(r.Interval) * time.Second,
		Peers:      r.Peers,
		Complete:   int(r.Seeders),
		Incomplete: int(r.Leechers),
	}, nil
}

func (c *Client) scrapeUDP(ctx context.Context, u *url.URL, hashes [][20]byte) (map[[20]byte]ScrapeStats, error) {
	if len(hashes) > UDPMaxScrapeHashes {
		return nil, fmt.Errorf("%w: %d hashes, UDP allows %d", ErrBadRequest, len(hashes), UDPMaxScrapeHashes)
	}
	s, err := c.dialUDP(ctx, u)
	if err != nil {
		return nil, err
	}
	defer s.close()
	resp, err := s.exchange(ctx, ActionScrape, func(cid uint64, tid uint32) []byte {
		return AppendUDPScrapeRequest(nil, cid, tid, hashes)
	})
	if err != nil {
		return nil, err
	}
	stats, err := ParseUDPScrapeResponse(resp, len(hashes))
	if err != nil {
		return nil, err
	}
	out := make(map[[20]byte]ScrapeStats, len(hashes))
	for i, h := range hashes {
		out[h] = stats[i]
	}
	return out, nil
}

// numWant maps the request's NumWant to the wire value (-1 = tracker's choice).
func numWant(req *AnnounceRequest) int32 {
	switch {
	case req.Event == EventStopped:
		return 0
	case req.NumWant == 0:
		return DefaultNumWant
	case req.NumWant < 0:
		return -1
	case req.NumWant > 1<<20:
		return 1 << 20
	}
	return int32(req.NumWant)
}
