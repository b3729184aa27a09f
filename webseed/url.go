package webseed

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/effusion-bt/effusion/metainfo"
)

// MaxURLLen bounds a web seed URL (they come from untrusted torrents).
const MaxURLLen = 4096

// urlMap turns a file of the torrent into the URL it is fetched from
// (BEP 19, GetRight style). Only the prefix and suffix are kept: a file's
// URL is built when it is requested, so a torrent of a million files costs
// nothing up front.
type urlMap struct {
	single string // the whole URL of a single-file torrent; "" for multi-file
	prefix string // scheme://host/path/ ending in '/' (multi-file)
	suffix string // "?query" of the seed URL, or ""
}

// CheckURL reports whether raw is usable as a web seed URL, with the
// checks New applies to it: nil, or an error wrapping ErrBadURL. Front
// ends use it to refuse a bad URL before any work starts.
func CheckURL(raw string) error {
	_, err := parseSeedURL(raw)
	return err
}

// parseSeedURL checks raw: http or https, a host, a valid port if any, no
// user info. Errors wrap ErrBadURL.
func parseSeedURL(raw string) (*url.URL, error) {
	if len(raw) > MaxURLLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadURL, len(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q not allowed", ErrBadURL, truncate(u.Scheme, 16))
	}
	if u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: no host", ErrBadURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: user info not allowed", ErrBadURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, fmt.Errorf("%w: port %q", ErrBadURL, truncate(p, 8))
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// newURLMap applies BEP 19's layout: a single-file torrent's URL is the
// file, with the torrent's name appended when it ends in '/'; a multi-file
// torrent's URL is a directory (a '/' is added when missing, as the other
// clients do) under which each file is <name>/<path...>.
func newURLMap(u *url.URL, info *metainfo.Info) urlMap {
	var m urlMap
	if u.RawQuery != "" || u.ForceQuery {
		m.suffix = "?" + u.RawQuery
	}
	base := u.Scheme + "://" + u.Host + u.EscapedPath()
	if !info.MultiFile {
		if strings.HasSuffix(base, "/") {
			base += url.PathEscape(info.Files[0].Path[0])
		}
		m.single = base + m.suffix
		return m
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	m.prefix = base
	return m
}

// fileURL is the URL of f: each path component escaped on its own, so
// spaces, '?', '#', '%' and non-ASCII names survive.
func (m *urlMap) fileURL(f *metainfo.File) string {
	if m.single != "" {
		return m.single
	}
	n := len(m.prefix) + len(m.suffix)
	for _, c := range f.Path {
		n += 3*len(c) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(m.prefix)
	for i, c := range f.Path {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(c))
	}
	b.WriteString(m.suffix)
	return b.String()
}

// redact strips the query (it may carry a token) for messages.
func redact(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	return raw
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
