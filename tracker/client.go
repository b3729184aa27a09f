package tracker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultTimeout      = 60 * time.Second
	DefaultMinInterval  = 60 * time.Second
	DefaultMaxBodySize  = 2 << 20
	DefaultMaxRedirects = 5
	DefaultUDPBase      = 15 * time.Second
	DefaultUDPRetries   = 8
	// DefaultInterval is used when a tracker sends no (or a zero) interval.
	DefaultInterval = 30 * time.Minute
	// UDPConnectionIDLifetime is how long a UDP connection id is reused (BEP 15).
	UDPConnectionIDLifetime = time.Minute
)

// UDPConn is the part of a connected UDP socket the client uses; *net.UDPConn
// satisfies it. Tests substitute in-memory fakes (for instance inside a
// testing/synctest bubble, where real sockets do not block durably).
type UDPConn interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
	RemoteAddr() net.Addr
	Close() error
}

// Options configure a Client. The zero value is usable: every zero field takes its default.
type Options struct {
	// Timeout bounds each Announce or Scrape call, retries and redirects
	// included (default DefaultTimeout; negative: only the caller's ctx).
	Timeout time.Duration
	// MinInterval is the floor applied to interval and min interval (default
	// DefaultMinInterval; tests lower it; negative means no floor).
	MinInterval time.Duration
	// MaxBodySize caps an HTTP response body (default 2 MiB).
	MaxBodySize int64
	// MaxPeers caps the peers kept from one response (default MaxPeersPerResponse).
	MaxPeers int
	// MaxRedirects caps HTTP redirects followed (default 5; negative: none).
	MaxRedirects int
	// UserAgent is sent on HTTP requests when non-empty.
	UserAgent string
	// Transport replaces the HTTP transport. When nil the client builds one
	// per request whose dialer refuses, after a public address, any private one.
	// A custom transport bypasses that dial-time check (redirect checks remain).
	Transport http.RoundTripper
	// DialUDP replaces how UDP sockets are opened (default: net.Dialer,
	// connected to address). The returned conn's RemoteAddr decides IPv4 vs IPv6 peers.
	DialUDP func(ctx context.Context, network, address string) (UDPConn, error)
	// UDPBase is the first UDP retransmission timeout; attempt n waits
	// UDPBase × 2^n (default 15 s as BEP 15 says).
	UDPBase time.Duration
	// UDPRetries is the largest n (default 8; negative: a single try).
	UDPRetries int
}

// Client announces to and scrapes trackers. It is safe for concurrent use;
// it caches UDP connection ids per tracker address.
type Client struct {
	opts Options

	mu      sync.Mutex
	connIDs map[string]connID // UDP tracker address -> connection id
}

type connID struct {
	id  uint64
	got time.Time
}

// NewClient returns a Client with opts (zero fields take defaults).
func NewClient(opts Options) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MinInterval == 0 {
		opts.MinInterval = DefaultMinInterval
	}
	if opts.MaxBodySize <= 0 {
		opts.MaxBodySize = DefaultMaxBodySize
	}
	if opts.MaxPeers <= 0 {
		opts.MaxPeers = MaxPeersPerResponse
	}
	if opts.MaxRedirects == 0 {
		opts.MaxRedirects = DefaultMaxRedirects
	}
	if opts.UDPBase <= 0 {
		opts.UDPBase = DefaultUDPBase
	}
	if opts.UDPRetries == 0 {
		opts.UDPRetries = DefaultUDPRetries
	}
	return &Client{opts: opts, connIDs: make(map[string]connID)}
}

var defaultClient = NewClient(Options{})

// Announce announces req to the tracker at rawURL with the default Client.
func Announce(ctx context.Context, rawURL string, req AnnounceRequest) (*AnnounceResponse, error) {
	return defaultClient.Announce(ctx, rawURL, req)
}

// Announce sends req to the tracker at rawURL (http, https or udp) and returns
// its answer. A tracker's refusal is a *FailureError; a malformed answer wraps
// ErrBadResponse; a UDP tracker that never answers gives ErrTimeout; a call
// never outlasts ctx nor Options.Timeout.
func (c *Client) Announce(ctx context.Context, rawURL string, req AnnounceRequest) (*AnnounceResponse, error) {
	u, err := ParseTrackerURL(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	var resp *AnnounceResponse
	if u.Scheme == "udp" {
		resp, err = c.announceUDP(ctx, u, &req)
	} else {
		resp, err = c.announceHTTP(ctx, u, &req)
	}
	if err != nil {
		return nil, err
	}
	c.clamp(resp)
	return resp, nil
}

// Scrape asks the tracker at announceURL for the stats of hashes (at most
// UDPMaxScrapeHashes for UDP). The scrape URL is derived by ScrapeURL. Hashes
// the tracker does not mention are absent from the map.
func (c *Client) Scrape(ctx context.Context, announceURL string, hashes ...[20]byte) (map[[20]byte]ScrapeStats, error) {
	if len(hashes) == 0 {
		return nil, fmt.Errorf("%w: scrape of no hashes", ErrBadRequest)
	}
	su, err := ScrapeURL(announceURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(su)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	if u.Scheme == "udp" {
		return c.scrapeUDP(ctx, u, hashes)
	}
	return c.scrapeHTTP(ctx, u, hashes)
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opts.Timeout > 0 {
		return context.WithTimeout(ctx, c.opts.Timeout)
	}
	return context.WithCancel(ctx)
}

// clamp applies the interval floor: a hostile or broken tracker must not make
// us announce in a tight loop.
func (c *Client) clamp(r *AnnounceResponse) {
	if r.Interval <= 0 {
		r.Interval = DefaultInterval
	}
	if floor := c.opts.MinInterval; floor > 0 {
		r.Interval = max(r.Interval, floor)
		if r.MinInterval > 0 {
			r.MinInterval = max(r.MinInterval, floor)
		}
	}
	r.Peers = dedupPeers(r.Peers)
}

// randUint32 returns a random transaction id or key.
func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return binary.BigEndian.Uint32(b[:])
}
