package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AppendEscaped appends b percent-encoded for a query string: unreserved
// characters (RFC 3986) as they are, every other byte as %XX. Raw 20-byte
// info-hashes and peer ids are sent this way (BEP 3).
func AppendEscaped(dst []byte, b []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}

// AnnounceQuery returns the query parameters of an HTTP announce for req,
// in a fixed order: info_hash, peer_id, port, uploaded, downloaded, left,
// event (unless none), compact=1, no_peer_id=1, numwant (unless negative), key,
// trackerid and ip (when set).
func AnnounceQuery(req *AnnounceRequest) string {
	b := make([]byte, 0, 320)
	b = append(b, "info_hash="...)
	b = AppendEscaped(b, req.InfoHash[:])
	b = append(b, "&peer_id="...)
	b = AppendEscaped(b, req.PeerID[:])
	b = append(b, "&port="...)
	b = strconv.AppendUint(b, uint64(req.Port), 10)
	b = append(b, "&uploaded="...)
	b = strconv.AppendInt(b, max(req.Uploaded, 0), 10)
	b = append(b, "&downloaded="...)
	b = strconv.AppendInt(b, max(req.Downloaded, 0), 10)
	b = append(b, "&left="...)
	b = strconv.AppendInt(b, max(req.Left, 0), 10)
	if req.Event != EventNone {
		b = append(b, "&event="...)
		b = append(b, req.Event.String()...)
	}
	b = append(b, "&compact=1&no_peer_id=1"...)
	if nw := numWant(req); nw >= 0 {
		b = append(b, "&numwant="...)
		b = strconv.AppendInt(b, int64(nw), 10)
	}
	b = append(b, "&key="...)
	b = fmt.Appendf(b, "%08x", req.Key)
	if req.TrackerID != "" {
		b = append(b, "&trackerid="...)
		b = AppendEscaped(b, []byte(req.TrackerID))
	}
	if req.IP != "" {
		b = append(b, "&ip="...)
		b = AppendEscaped(b, []byte(req.IP))
	}
	return string(b)
}

// withQuery appends q to u's existing query (private trackers put a passkey there).
func withQuery(u *url.URL, q string) string {
	v := *u
	if v.RawQuery != "" {
		v.RawQuery += "&" + q
	} else {
		v.RawQuery = q
	}
	v.Fragment = ""
	return v.String()
}

func (c *Client) announceHTTP(ctx context.Context, u *url.URL, req *AnnounceRequest) (*AnnounceResponse, error) {
	body, err := c.get(ctx, withQuery(u, AnnounceQuery(req)))
	if err != nil {
		return nil, err
	}
	resp, err := ParseAnnounceBody(body, c.opts.MaxPeers)
	var fe *FailureError
	if errors.As(err, &fe) {
		fe.URL = redact(u.Redacted())
	}
	return resp, err
}

func (c *Client) scrapeHTTP(ctx context.Context, u *url.URL, hashes [][20]byte) (map[[20]byte]ScrapeStats, error) {
	var q []byte
	for i, h := range hashes {
		if i > 0 {
			q = append(q, '&')
		}
		q = append(q, "info_hash="...)
		q = AppendEscaped(q, h[:])
	}
	body, err := c.get(ctx, withQuery(u, string(q)))
	if err != nil {
		return nil, err
	}
	m, err := ParseScrapeBody(body)
	var fe *FailureError
	if errors.As(err, &fe) {
		fe.URL = redact(u.Redacted())
	}
	return m, err
}

// get performs a bounded GET: redirects limited and checked, the body read
// through a limit, and (with the default transport) every dialed address
// checked against the origin's class.
func (c *Client) get(ctx context.Context, rawURL string) ([]byte, error) {
	guard := &addrGuard{}
	if u, err := url.Parse(rawURL); err == nil {
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			if err := guard.check(a); err != nil {
				return nil, err
			}
		}
	}
	rt := c.opts.Transport
	if rt == nil {
		t := c.transport(guard)
		defer t.CloseIdleConnections()
		rt = t
	}
	hc := &http.Client{
		Transport: rt,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) > c.opts.MaxRedirects {
				return fmt.Errorf("%w (%d)", ErrTooManyRedirects, len(via))
			}
			if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
				return fmt.Errorf("%w: redirect to scheme %q", ErrBadURL, truncate(r.URL.Scheme, 16))
			}
			if a, err := netip.ParseAddr(r.URL.Hostname()); err == nil {
				return guard.check(a)
			}
			return nil
		},
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if c.opts.UserAgent != "" {
		hreq.Header.Set("User-Agent", c.opts.UserAgent)
	}
	hreq.Header.Set("Accept-Encoding", "identity")
	resp, err := hc.Do(hreq)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: it carries the passkey and peer id
		}
		return nil, fmt.Errorf("tracker %s: %w", redact(rawURL), err)
	}
	defer resp.Body.Close()
	limit := c.opts.MaxBodySize
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("tracker %s: %w: content-length %d", redact(rawURL), ErrBodyTooLarge, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("tracker %s: reading body: %w", redact(rawURL), err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("tracker %s: %w (limit %d)", redact(rawURL), ErrBodyTooLarge, limit)
	}
	if resp.StatusCode != http.StatusOK {
		// A failure reason in a non-200 body is still the best explanation.
		if _, perr := ParseAnnounceBody(body, 1); perr != nil {
			var fe *FailureError
			if errors.As(perr, &fe) {
				return nil, perr
			}
		}
		return nil, fmt.Errorf("tracker %s: http status %d", redact(rawURL), resp.StatusCode)
	}
	return body, nil
}

// transport is a fresh, keep-alive-free transport whose dialer applies guard
// to the resolved address of every connection (the redirect target included),
// which also defeats DNS names that resolve to private addresses.
func (c *Client) transport(guard *addrGuard) *http.Transport {
	d := &net.Dialer{
		Timeout: 15 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			return guard.check(ap.Addr())
		},
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		TLSHandshakeTimeout:    15 * time.Second,
		ResponseHeaderTimeout:  30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      false,
	}
}

// redact strips the query (peer id, passkey) from a URL for error messages.
func redact(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	return raw
}
