package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/effusion-bt/effusion/metainfo"
)

// source is what torrent-add was given: a parsed torrent, or a magnet
// (parsed, and as given, for the client).
type source struct {
	mi     *metainfo.MetaInfo
	magnet *metainfo.Magnet
	link   string
}

// decodeMetainfo reads torrent-add's "metainfo": base64 (standard or URL
// alphabet, padded or not, line breaks allowed) of at most
// maxTorrentSize bytes, parsed strictly.
func decodeMetainfo(s string) (*metainfo.MetaInfo, error) {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s)
	if base64.StdEncoding.DecodedLen(len(s)) > maxTorrentSize+3 {
		return nil, rpcErrorf("invalid or corrupt torrent file: larger than %d MiB", maxTorrentSize>>20)
	}
	s = strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	data, err := enc.DecodeString(s)
	if err != nil {
		return nil, rpcErrorf("invalid or corrupt torrent file: \"metainfo\" is not base64: %v", err)
	}
	return parseTorrent(data)
}

func parseTorrent(data []byte) (*metainfo.MetaInfo, error) {
	if len(data) > maxTorrentSize {
		return nil, rpcErrorf("invalid or corrupt torrent file: larger than %d MiB", maxTorrentSize>>20)
	}
	mi, err := metainfo.Parse(data)
	if err != nil {
		return nil, rpcErrorf("invalid or corrupt torrent file: %v", err)
	}
	return mi, nil
}

// openFilename reads torrent-add's "filename": a magnet link, an http(s)
// URL (only from hosts in Config.FetchAllow), or a local .torrent file.
// A local path is made absolute and cleaned, must name a regular file
// (symbolic links followed) of at most maxTorrentSize bytes, and is read
// only as a torrent: what it holds is never echoed back.
func (d *Daemon) openFilename(ctx context.Context, name string) (source, error) {
	low := strings.ToLower(strings.TrimSpace(name))
	switch {
	case strings.HasPrefix(low, "magnet:"):
		link := strings.TrimSpace(name)
		m, err := metainfo.ParseMagnet(link)
		if err != nil {
			return source{}, rpcErrorf("invalid magnet link: %v", err)
		}
		return source{magnet: m, link: link}, nil
	case strings.HasPrefix(low, "http://"), strings.HasPrefix(low, "https://"):
		mi, err := d.fetch(ctx, strings.TrimSpace(name))
		return source{mi: mi}, err
	case strings.Contains(low, "://"):
		return source{}, rpcErrorf("filename: only magnet links, http(s) URLs and local paths are accepted")
	}
	p, err := filepath.Abs(name)
	if err != nil {
		return source{}, rpcErrorf("filename: %v", err)
	}
	f, err := os.Open(p)
	if err != nil {
		return source{}, rpcErrorf("filename: cannot open %q: %v", p, errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return source{}, rpcErrorf("filename: %q: %v", p, err)
	}
	if !fi.Mode().IsRegular() {
		return source{}, rpcErrorf("filename: %q is not a regular file", p)
	}
	if fi.Size() > maxTorrentSize {
		return source{}, rpcErrorf("filename: %q is larger than a torrent may be (%d MiB)", p, maxTorrentSize>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTorrentSize+1))
	if err != nil {
		return source{}, rpcErrorf("filename: reading %q: %v", p, err)
	}
	mi, err := parseTorrent(data)
	if err != nil {
		return source{}, rpcErrorf("filename: %q is not a valid torrent file", p)
	}
	return source{mi: mi}, nil
}

// fetchTimeout bounds a .torrent download.
const fetchTimeout = 30 * time.Second

// fetch downloads a .torrent from an allowed host (redirects too must stay
// on allowed hosts), at most maxTorrentSize bytes.
func (d *Daemon) fetch(ctx context.Context, raw string) (*metainfo.MetaInfo, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, rpcErrorf("filename: bad URL: %v", err)
	}
	if !d.fetchAllowed(u) {
		return nil, rpcErrorf("filename: the daemon fetches no URL from %q (allow its host with --rpc-fetch-allow)", u.Hostname())
	}
	hc := &http.Client{
		Timeout: fetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if !d.fetchAllowed(req.URL) {
				return fmt.Errorf("redirected to %q, which is not allowed", req.URL.Hostname())
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, rpcErrorf("filename: %v", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, rpcErrorf("filename: fetching the torrent: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, rpcErrorf("filename: fetching the torrent: HTTP %s", resp.Status)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(resp.Body, maxTorrentSize+1)); err != nil {
		return nil, rpcErrorf("filename: fetching the torrent: %v", err)
	}
	return parseTorrent(buf.Bytes())
}

func (d *Daemon) fetchAllowed(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, a := range d.cfg.FetchAllow {
		if strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}
