package tracker

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// UDP tracker protocol (BEP 15) packet formats. Shared by the client and
// package tracker/server; none of these functions allocate beyond the result.

// UDPProtocolID is the magic constant a connect request starts with.
const UDPProtocolID uint64 = 0x41727101980

// UDP actions.
const (
	ActionConnect  uint32 = 0
	ActionAnnounce uint32 = 1
	ActionScrape   uint32 = 2
	ActionError    uint32 = 3
)

// Packet sizes and limits.
const (
	UDPConnectRequestLen  = 16
	UDPConnectResponseLen = 16
	UDPAnnounceRequestLen = 98
	UDPAnnounceHeaderLen  = 20 // response header before the peers
	UDPScrapeHeaderLen    = 8
	// UDPMaxScrapeHashes is the most info-hashes one scrape packet may carry.
	UDPMaxScrapeHashes = 74
	// UDPMaxPacket bounds every datagram read.
	UDPMaxPacket = 64 << 10
)

// UDPHeader is the first 8 bytes of every response: action and transaction id.
type UDPHeader struct {
	Action        uint32
	TransactionID uint32
}

// AppendUDPConnectRequest appends a connect request.
func AppendUDPConnectRequest(dst []byte, tid uint32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, UDPProtocolID)
	dst = binary.BigEndian.AppendUint32(dst, ActionConnect)
	return binary.BigEndian.AppendUint32(dst, tid)
}

// UDPRequestHeader is the common head of client requests:
// connection id, action, transaction id.
type UDPRequestHeader struct {
	ConnectionID  uint64
	Action        uint32
	TransactionID uint32
}

// ParseUDPRequestHeader reads the 16-byte header every client request starts with.
func ParseUDPRequestHeader(b []byte) (UDPRequestHeader, error) {
	if len(b) < 16 {
		return UDPRequestHeader{}, fmt.Errorf("%w: packet of %d bytes", ErrBadRequest, len(b))
	}
	return UDPRequestHeader{
		ConnectionID:  binary.BigEndian.Uint64(b),
		Action:        binary.BigEndian.Uint32(b[8:]),
		TransactionID: binary.BigEndian.Uint32(b[12:]),
	}, nil
}

// ParseUDPHeader reads the action and transaction id of a response.
func ParseUDPHeader(b []byte) (UDPHeader, error) {
	if len(b) < 8 {
		return UDPHeader{}, &ParseError{Field: "udp header", Msg: fmt.Sprintf("packet of %d bytes", len(b))}
	}
	return UDPHeader{Action: binary.BigEndian.Uint32(b), TransactionID: binary.BigEndian.Uint32(b[4:])}, nil
}

// AppendUDPConnectResponse appends a connect response (server side).
func AppendUDPConnectResponse(dst []byte, tid uint32, connID uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, ActionConnect)
	dst = binary.BigEndian.AppendUint32(dst, tid)
	return binary.BigEndian.AppendUint64(dst, connID)
}

// ParseUDPConnectResponse returns the connection id of a connect response.
// The caller has already checked the header (action and transaction id).
func ParseUDPConnectResponse(b []byte) (uint64, error) {
	if len(b) < UDPConnectResponseLen {
		return 0, &ParseError{Field: "connect response", Msg: fmt.Sprintf("%d bytes, want 16", len(b))}
	}
	return binary.BigEndian.Uint64(b[8:]), nil
}

// UDPAnnounce is the body of a BEP 15 announce request.
type UDPAnnounce struct {
	ConnectionID  uint64
	TransactionID uint32
	InfoHash      [20]byte
	PeerID        [20]byte
	Downloaded    int64
	Left          int64
	Uploaded      int64
	Event         Event
	IP            [4]byte // 0 = the sender's address
	Key           uint32
	NumWant       int32 // -1 = default
	Port          uint16
}

// AppendUDPAnnounceRequest appends a 98-byte announce request.
func AppendUDPAnnounceRequest(dst []byte, a *UDPAnnounce) []byte {
	dst = binary.BigEndian.AppendUint64(dst, a.ConnectionID)
	dst = binary.BigEndian.AppendUint32(dst, ActionAnnounce)
	dst = binary.BigEndian.AppendUint32(dst, a.TransactionID)
	dst = append(dst, a.InfoHash[:]...)
	dst = append(dst, a.PeerID[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.Downloaded))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.Left))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.Uploaded))
	dst = binary.BigEndian.AppendUint32(dst, uint32(a.Event))
	dst = append(dst, a.IP[:]...)
	dst = binary.BigEndian.AppendUint32(dst, a.Key)
	dst = binary.BigEndian.AppendUint32(dst, uint32(a.NumWant))
	return binary.BigEndian.AppendUint16(dst, a.Port)
}

// ParseUDPAnnounceRequest decodes an announce request (server side). Extra
// bytes after the 98 (BEP 41 options) are ignored. Event values above 3 and
// negative byte counts are errors wrapping ErrBadRequest.
func ParseUDPAnnounceRequest(b []byte) (UDPAnnounce, error) {
	var a UDPAnnounce
	if len(b) < UDPAnnounceRequestLen {
		return a, fmt.Errorf("%w: announce of %d bytes, want %d", ErrBadRequest, len(b), UDPAnnounceRequestLen)
	}
	a.ConnectionID = binary.BigEndian.Uint64(b)
	a.TransactionID = binary.BigEndian.Uint32(b[12:])
	copy(a.InfoHash[:], b[16:36])
	copy(a.PeerID[:], b[36:56])
	a.Downloaded = int64(binary.BigEndian.Uint64(b[56:]))
	a.Left = int64(binary.BigEndian.Uint64(b[64:]))
	a.Uploaded = int64(binary.BigEndian.Uint64(b[72:]))
	a.Event = Event(binary.BigEndian.Uint32(b[80:]))
	copy(a.IP[:], b[84:88])
	a.Key = binary.BigEndian.Uint32(b[88:])
	a.NumWant = int32(binary.BigEndian.Uint32(b[92:]))
	a.Port = binary.BigEndian.Uint16(b[96:])
	if a.Event > EventStopped {
		return a, fmt.Errorf("%w: event %d", ErrBadRequest, uint32(a.Event))
	}
	if a.Downloaded < 0 || a.Left < 0 || a.Uploaded < 0 {
		return a, fmt.Errorf("%w: negative byte count", ErrBadRequest)
	}
	return a, nil
}

// UDPAnnounceResponse is the decoded body of an announce response.
type UDPAnnounceResponse struct {
	Interval  uint32
	Leechers  uint32
	Seeders   uint32
	Peers     []netip.AddrPort
	Truncated bool // more peers were present than max allowed
}

// AppendUDPAnnounceResponse appends an announce response; peers are encoded
// compactly, 6 bytes each when ipv6 is false (non-IPv4 peers are skipped) and
// 18 bytes each when true (IPv4 peers are skipped: BEP 15 ties the peer family
// to the family the request arrived over).
func AppendUDPAnnounceResponse(dst []byte, tid uint32, interval, leechers, seeders uint32, peers []netip.AddrPort, ipv6 bool) []byte {
	dst = binary.BigEndian.AppendUint32(dst, ActionAnnounce)
	dst = binary.BigEndian.AppendUint32(dst, tid)
	dst = binary.BigEndian.AppendUint32(dst, interval)
	dst = binary.BigEndian.AppendUint32(dst, leechers)
	dst = binary.BigEndian.AppendUint32(dst, seeders)
	for _, p := range peers {
		if p.Addr().Unmap().Is4() == ipv6 {
			continue
		}
		if ipv6 {
			b := p.Addr().As16()
			dst = append(dst, b[:]...)
			dst = binary.BigEndian.AppendUint16(dst, p.Port())
		} else {
			dst = AppendCompactPeer(dst, p)
		}
	}
	return dst
}

// ParseUDPAnnounceResponse decodes an announce response whose header the
// caller has checked. ipv6 selects 18-byte peer entries; at most max peers are
// kept (max <= 0: no cap). A trailing partial entry is an error.
func ParseUDPAnnounceResponse(b []byte, ipv6 bool, max int) (UDPAnnounceResponse, error) {
	var r UDPAnnounceResponse
	if len(b) < UDPAnnounceHeaderLen {
		return r, &ParseError{Field: "announce response", Msg: fmt.Sprintf("%d bytes, want >= 20", len(b))}
	}
	r.Interval = binary.BigEndian.Uint32(b[8:])
	r.Leechers = binary.BigEndian.Uint32(b[12:])
	r.Seeders = binary.BigEndian.Uint32(b[16:])
	body := b[UDPAnnounceHeaderLen:]
	size := 6
	if ipv6 {
		size = 18
	}
	n := len(body) / size
	if max > 0 && n > max {
		r.Truncated = true
		body = body[:max*size]
	} else if len(body)%size != 0 {
		return r, &ParseError{Field: "announce response", Msg: "peer list length not a multiple of entry size"}
	}
	var err error
	r.Peers, err = ParseCompactPeers(make([]netip.AddrPort, 0, len(body)/size), body, ipv6, 0)
	return r, err
}

// AppendUDPScrapeRequest appends a scrape request for up to UDPMaxScrapeHashes hashes.
func AppendUDPScrapeRequest(dst []byte, connID uint64, tid uint32, hashes [][20]byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, connID)
	dst = binary.BigEndian.AppendUint32(dst, ActionScrape)
	dst = binary.BigEndian.AppendUint32(dst, tid)
	for _, h := range hashes {
		dst = append(dst, h[:]...)
	}
	return dst
}

// ParseUDPScrapeRequest returns the info-hashes of a scrape request (server
// side): at least one, at most UDPMaxScrapeHashes, whole 20-byte entries.
func ParseUDPScrapeRequest(b []byte) ([][20]byte, error) {
	body := b[min(len(b), 16):]
	if len(b) < 16 || len(body) == 0 || len(body)%20 != 0 || len(body)/20 > UDPMaxScrapeHashes {
		return nil, fmt.Errorf("%w: scrape of %d bytes", ErrBadRequest, len(b))
	}
	hs := make([][20]byte, len(body)/20)
	for i := range hs {
		hs[i] = [20]byte(body[i*20:])
	}
	return hs, nil
}

// AppendUDPScrapeResponse appends a scrape response (server side), one
// 12-byte entry (seeders, completed, leechers) per requested hash, in order.
func AppendUDPScrapeResponse(dst []byte, tid uint32, stats []ScrapeStats) []byte {
	dst = binary.BigEndian.AppendUint32(dst, ActionScrape)
	dst = binary.BigEndian.AppendUint32(dst, tid)
	for _, s := range stats {
		dst = binary.BigEndian.AppendUint32(dst, clampU32(s.Complete))
		dst = binary.BigEndian.AppendUint32(dst, clampU32(s.Downloaded))
		dst = binary.BigEndian.AppendUint32(dst, clampU32(s.Incomplete))
	}
	return dst
}

// ParseUDPScrapeResponse decodes a scrape response for n requested hashes
// (header already checked). Fewer entries than n is an error; extra bytes are ignored.
func ParseUDPScrapeResponse(b []byte, n int) ([]ScrapeStats, error) {
	body := b[min(len(b), 8):]
	if len(body) < 12*n {
		return nil, &ParseError{Field: "scrape response", Msg: fmt.Sprintf("%d bytes for %d hashes", len(b), n)}
	}
	out := make([]ScrapeStats, n)
	for i := range out {
		e := body[12*i:]
		out[i] = ScrapeStats{
			Complete:   int(binary.BigEndian.Uint32(e)),
			Downloaded: int(binary.BigEndian.Uint32(e[4:])),
			Incomplete: int(binary.BigEndian.Uint32(e[8:])),
		}
	}
	return out, nil
}

// AppendUDPError appends an error response carrying msg.
func AppendUDPError(dst []byte, tid uint32, msg string) []byte {
	dst = binary.BigEndian.AppendUint32(dst, ActionError)
	dst = binary.BigEndian.AppendUint32(dst, tid)
	return append(dst, msg...)
}

// ParseUDPError returns the (truncated) message of an error response.
func ParseUDPError(b []byte) string {
	if len(b) <= 8 {
		return ""
	}
	return sanitizeText(b[8:], MaxFailureReason)
}

func clampU32(v int) uint32 {
	if v < 0 {
		return 0
	}
	if uint64(v) > 0xffffffff {
		return 0xffffffff
	}
	return uint32(v)
}
