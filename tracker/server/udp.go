package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/tracker"
)

// connIDBucket is the granularity of UDP connection ids: an id made in
// bucket b is accepted in buckets b, b+1 and b+2, so it stays valid for at
// least two minutes (BEP 15 asks clients to use one for at most one).
const connIDBucket = time.Minute

// connectionID is an HMAC of the client's IP address and a time bucket: no
// per-client state, and unforgeable without the secret (BEP 15 recommends
// this against spoofed-source amplification). The port is left out because
// clients reuse a connection id from a new socket (a new source port).
func (s *Server) connectionID(addr netip.AddrPort, bucket int64) uint64 {
	m := hmac.New(sha256.New, s.secret[:])
	b := addr.Addr().Unmap().As16()
	m.Write(b[:])
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(bucket)))
	return binary.BigEndian.Uint64(m.Sum(nil))
}

func (s *Server) bucket() int64 { return s.cfg.Now().UnixNano() / int64(connIDBucket) }

func (s *Server) validConnectionID(addr netip.AddrPort, id uint64) bool {
	b := s.bucket()
	for i := int64(0); i < 3; i++ { // newest bucket first: the common case costs one HMAC
		if subtle.ConstantTimeCompare(binary.BigEndian.AppendUint64(nil, s.connectionID(addr, b-i)), binary.BigEndian.AppendUint64(nil, id)) == 1 {
			return true
		}
	}
	return false
}

// serveUDP reads datagrams until the socket closes. Each is handled inline:
// handling is a bounded store operation and one write.
func (s *Server) serveUDP() {
	buf := make([]byte, 2048) // requests are at most 16 + 74*20 bytes
	out := make([]byte, 0, 20+18*s.cfg.MaxNumWant)
	for {
		n, addr, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP-induced errors; the socket stays usable
		}
		if resp := s.handleUDP(out[:0], buf[:n], addr); len(resp) > 0 {
			_, _ = s.udp.WriteToUDPAddrPort(resp, addr)
		}
	}
}

// handleUDP returns the response to one datagram, or nil to stay silent
// (packets too short to carry a transaction id get no answer).
func (s *Server) handleUDP(out, pkt []byte, from netip.AddrPort) []byte {
	h, err := tracker.ParseUDPRequestHeader(pkt)
	if err != nil {
		return nil
	}
	if h.Action == tracker.ActionConnect {
		if h.ConnectionID != tracker.UDPProtocolID {
			return tracker.AppendUDPError(out, h.TransactionID, "bad protocol id")
		}
		return tracker.AppendUDPConnectResponse(out, h.TransactionID, s.connectionID(from, s.bucket()))
	}
	if !s.validConnectionID(from, h.ConnectionID) {
		return tracker.AppendUDPError(out, h.TransactionID, "bad connection id")
	}
	switch h.Action {
	case tracker.ActionAnnounce:
		a, err := tracker.ParseUDPAnnounceRequest(pkt)
		if err != nil {
			return tracker.AppendUDPError(out, h.TransactionID, "malformed announce")
		}
		if a.Port == 0 {
			return tracker.AppendUDPError(out, h.TransactionID, "invalid port")
		}
		addr := netip.AddrPortFrom(from.Addr().Unmap(), a.Port)
		if ip := netip.AddrFrom4(a.IP); s.cfg.TrustIPParam && !ip.IsUnspecified() {
			addr = netip.AddrPortFrom(ip, a.Port)
		}
		res, err := s.store.announce(announceIn{
			infoHash: a.InfoHash, peerID: a.PeerID, addr: addr, from: from.Addr(), left: a.Left,
			event: uint32(a.Event), numWant: s.numWant(int(a.NumWant)),
		})
		if err != nil {
			return tracker.AppendUDPError(out, h.TransactionID, err.Error())
		}
		ipv6 := !from.Addr().Unmap().Is4()
		peers := make([]netip.AddrPort, 0, len(res.peers))
		for _, p := range res.peers {
			peers = append(peers, p.Addr)
		}
		return tracker.AppendUDPAnnounceResponse(out, h.TransactionID, uint32(s.cfg.Interval/time.Second),
			uint32(res.incomplete), uint32(res.complete), peers, ipv6)
	case tracker.ActionScrape:
		hs, err := tracker.ParseUDPScrapeRequest(pkt)
		if err != nil {
			return tracker.AppendUDPError(out, h.TransactionID, "malformed scrape")
		}
		stats := make([]tracker.ScrapeStats, len(hs))
		for i, ih := range hs {
			c, inc, d, _ := s.store.scrape(ih)
			stats[i] = tracker.ScrapeStats{Complete: c, Incomplete: inc, Downloaded: d}
		}
		return tracker.AppendUDPScrapeResponse(out, h.TransactionID, stats)
	}
	return tracker.AppendUDPError(out, h.TransactionID, "unknown action")
}

// numWant maps a requested count to [0, MaxNumWant]; negative means default.
func (s *Server) numWant(n int) int {
	if n < 0 {
		return s.cfg.DefaultNumWant
	}
	return min(n, s.cfg.MaxNumWant)
}
