// Package tracker speaks to BitTorrent trackers: the HTTP announce and scrape
// protocol (BEP 3, 7, 23, 48), the UDP protocol (BEP 15) and multitracker tiers
// (BEP 12). It holds the wire formats (shared with package tracker/server), a
// Client that enforces the limits a hostile tracker must not get around, and
// an Announcer that keeps one torrent announced for as long as it runs.
package tracker

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Event is the announce event. Its numeric values are those of BEP 15.
type Event uint32

// Announce events. EventNone is a regular, periodic announce.
const (
	EventNone Event = iota
	EventCompleted
	EventStarted
	EventStopped
)

// String returns the event's name as the HTTP protocol spells it ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventNone:
		return ""
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return fmt.Sprintf("event(%d)", uint32(e))
}

// ParseEvent maps an HTTP event parameter to an Event; "" and "empty" are EventNone.
// Any other unknown name is an error wrapping ErrBadRequest.
func ParseEvent(s string) (Event, error) {
	switch s {
	case "", "empty":
		return EventNone, nil
	case "completed":
		return EventCompleted, nil
	case "started":
		return EventStarted, nil
	case "stopped":
		return EventStopped, nil
	}
	return EventNone, fmt.Errorf("%w: unknown event %q", ErrBadRequest, truncate(s, 32))
}

// DefaultNumWant is the number of peers asked for when AnnounceRequest.NumWant is 0.
const DefaultNumWant = 50

// AnnounceRequest is what a client tells a tracker. The HTTP client always asks
// for a compact response without peer ids (compact=1, no_peer_id=1) and parses a
// dictionary peer list as well, because some trackers ignore the hint.
type AnnounceRequest struct {
	InfoHash [20]byte
	PeerID   [20]byte
	Port     uint16
	// Uploaded, Downloaded and Left are byte counts; negative values are sent as 0.
	Uploaded, Downloaded, Left int64
	Event                      Event
	// NumWant is how many peers to ask for: 0 means DefaultNumWant, a negative
	// value lets the tracker choose. A stopped announce always asks for 0.
	NumWant int
	// Key identifies this client across IP changes (sent as 8 hex digits over HTTP).
	Key uint32
	// IP is sent as the ip parameter when non-empty (HTTP), or as the IPv4
	// address field (UDP) when it is an IPv4 address.
	IP string
	// TrackerID echoes the tracker id a previous response carried (HTTP only).
	TrackerID string
}

// AnnounceResponse is what a tracker answered. Intervals are already clamped
// to the client's minimum; Peers holds IPv4 and IPv6 peers, deduplicated and capped.
type AnnounceResponse struct {
	Interval    time.Duration
	MinInterval time.Duration // 0 when the tracker did not send one
	Peers       []netip.AddrPort
	TrackerID   string // "" when none was sent
	Warning     string // "warning message", if any
	// Complete and Incomplete are the seeder and leecher counts, -1 when not sent.
	Complete, Incomplete int
}

// ScrapeStats is one torrent's entry in a scrape response (BEP 48).
type ScrapeStats struct {
	Complete   int // seeders
	Incomplete int // leechers
	Downloaded int // completed downloads ever reported
}

// Sentinel errors. Callers branch on these with errors.Is.
var (
	// ErrBadURL: the tracker URL cannot be used (syntax, scheme, or no host).
	ErrBadURL = errors.New("tracker: bad tracker url")
	// ErrScrapeUnsupported: the announce URL does not map to a scrape URL (BEP 48 rule).
	ErrScrapeUnsupported = errors.New("tracker: scrape not supported by this url")
	// ErrBodyTooLarge: an HTTP response exceeded the body limit.
	ErrBodyTooLarge = errors.New("tracker: response body too large")
	// ErrBadResponse: the response could not be parsed.
	ErrBadResponse = errors.New("tracker: malformed response")
	// ErrBadRequest: a request (as seen by a server) is malformed.
	ErrBadRequest = errors.New("tracker: malformed request")
	// ErrForbiddenAddress: a dial or redirect was refused by the address policy.
	ErrForbiddenAddress = errors.New("tracker: forbidden address")
	// ErrTooManyRedirects: the redirect limit was reached.
	ErrTooManyRedirects = errors.New("tracker: too many redirects")
	// ErrTimeout: a UDP tracker did not answer within the retransmission schedule.
	ErrTimeout = errors.New("tracker: no response")
	// ErrNoTrackers: an announcer or tier list has no usable tracker.
	ErrNoTrackers = errors.New("tracker: no usable tracker")
)

// FailureError is a tracker's own refusal: "failure reason" (HTTP) or an error
// action (UDP). Reason is truncated to MaxFailureReason bytes.
type FailureError struct {
	URL    string
	Reason string
}

func (e *FailureError) Error() string {
	return fmt.Sprintf("tracker %s: failure: %s", e.URL, e.Reason)
}

// ParseError is a response that broke the protocol; it wraps ErrBadResponse.
type ParseError struct {
	Field string // the response field or packet part that was wrong
	Msg   string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("tracker: malformed response: %s: %s", e.Field, e.Msg)
}

// Unwrap makes errors.Is(err, ErrBadResponse) true.
func (e *ParseError) Unwrap() error { return ErrBadResponse }

// MaxFailureReason caps the failure reason and warning message kept from a tracker.
const MaxFailureReason = 1024

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
