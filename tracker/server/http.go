package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/effusion-bt/effusion/bencode"
	"github.com/effusion-bt/effusion/tracker"
)

const (
	maxHeaderBytes = 8 << 10 // bounds the request line, hence the query
	maxQueryLen    = 4 << 10
	maxQueryParams = 128
	// maxScrapeHashes bounds one HTTP scrape request.
	maxScrapeHashes = 64
)

func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /announce", s.serveAnnounce)
	mux.HandleFunc("GET /scrape", s.serveScrape)
	return mux
}

// query is a decoded query string; repeated keys keep every value.
type query map[string][]string

func (q query) get(k string) (string, bool) {
	v, ok := q[k]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseQuery decodes a raw query string with bounds on size and parameter
// count. It accepts ';' inside values (unlike url.ParseQuery) because raw
// binary info-hashes may be sent half-escaped by lax clients.
func parseQuery(raw string) (query, error) {
	if len(raw) > maxQueryLen {
		return nil, fmt.Errorf("query too long")
	}
	q := make(query)
	n := 0
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		if n++; n > maxQueryParams {
			return nil, fmt.Errorf("too many parameters")
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("bad escape in parameter name")
		}
		v, err = url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("bad escape in %s", truncate(k, 32))
		}
		q[k] = append(q[k], v)
	}
	return q, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// writeFailure answers with a bencoded failure reason. Status 200: many
// clients only read the body of a 200 response.
func writeFailure(w http.ResponseWriter, reason string) {
	b, err := bencode.Marshal(map[string]any{"failure reason": reason})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeBody(w, b)
}

func writeBody(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// announceParams is a validated HTTP announce.
type announceParams struct {
	in       announceIn
	compact  bool
	noPeerID bool
}

func (s *Server) parseAnnounce(r *http.Request) (announceParams, error) {
	var p announceParams
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return p, err
	}
	ih, ok := q.get("info_hash")
	if !ok {
		return p, errors.New("missing info_hash")
	}
	if len(ih) != 20 {
		return p, errors.New("invalid info_hash: must be 20 bytes")
	}
	pid, ok := q.get("peer_id")
	if !ok || len(pid) != 20 {
		return p, errors.New("invalid peer_id: must be 20 bytes")
	}
	ps, _ := q.get("port")
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || port == 0 {
		return p, errors.New("invalid port")
	}
	for _, k := range []string{"uploaded", "downloaded", "left"} {
		if v, ok := q.get(k); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
				return p, fmt.Errorf("invalid %s", k)
			}
		}
	}
	left := int64(-1) // missing: treat as a leecher, never as a seed
	if v, ok := q.get("left"); ok {
		left, _ = strconv.ParseInt(v, 10, 64)
	}
	evs, _ := q.get("event")
	ev, err := tracker.ParseEvent(evs)
	if err != nil {
		return p, errors.New("invalid event")
	}
	nw := -1
	if v, ok := q.get("numwant"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, errors.New("invalid numwant")
		}
		nw = n
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return p, errors.New("cannot determine your address")
	}
	addr := ap.Addr().Unmap()
	if v, ok := q.get("ip"); ok && s.cfg.TrustIPParam {
		if a, err := netip.ParseAddr(v); err == nil && !a.IsUnspecified() {
			addr = a.Unmap()
		}
	}
	p.in = announceIn{
		infoHash: [20]byte([]byte(ih)),
		peerID:   [20]byte([]byte(pid)),
		addr:     netip.AddrPortFrom(addr, uint16(port)),
		from:     ap.Addr(),
		left:     left,
		event:    uint32(ev),
		numWant:  s.numWant(nw),
	}
	c, _ := q.get("compact")
	p.compact = c != "0"
	np, _ := q.get("no_peer_id")
	p.noPeerID = np == "1"
	return p, nil
}

// announceBody is the bencoded answer; keys sort in the order bencode requires.
type announceBody struct {
	Complete    int64  `bencode:"complete"`
	Incomplete  int64  `bencode:"incomplete"`
	Interval    int64  `bencode:"interval"`
	MinInterval int64  `bencode:"min interval"`
	Peers       any    `bencode:"peers"`
	Peers6      []byte `bencode:"peers6,omitempty"`
}

type dictPeer struct {
	IP     string `bencode:"ip"`
	PeerID []byte `bencode:"peer id,omitempty"`
	Port   int64  `bencode:"port"`
}

func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	p, err := s.parseAnnounce(r)
	if err != nil {
		writeFailure(w, err.Error())
		return
	}
	res, err := s.store.announce(p.in)
	if err != nil {
		writeFailure(w, err.Error())
		return
	}
	body := announceBody{
		Complete:    int64(res.complete),
		Incomplete:  int64(res.incomplete),
		Interval:    int64(s.cfg.Interval / time.Second),
		MinInterval: int64(s.cfg.MinInterval / time.Second),
	}
	if p.compact {
		var v4, v6 []byte
		for _, pe := range res.peers {
			if pe.Addr.Addr().Is4() {
				v4 = tracker.AppendCompactPeer(v4, pe.Addr)
			} else {
				v6 = tracker.AppendCompactPeer(v6, pe.Addr)
			}
		}
		if v4 == nil {
			v4 = []byte{}
		}
		body.Peers, body.Peers6 = v4, v6
	} else {
		list := make([]dictPeer, 0, len(res.peers))
		for _, pe := range res.peers {
			d := dictPeer{IP: pe.Addr.Addr().String(), Port: int64(pe.Addr.Port())}
			if !p.noPeerID {
				d.PeerID = pe.ID[:]
			}
			list = append(list, d)
		}
		body.Peers = list
	}
	b, err := bencode.Marshal(body)
	if err != nil {
		s.log.Error("encode announce", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeBody(w, b)
}

type scrapeFile struct {
	Complete   int64 `bencode:"complete"`
	Downloaded int64 `bencode:"downloaded"`
	Incomplete int64 `bencode:"incomplete"`
}

func (s *Server) serveScrape(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		writeFailure(w, err.Error())
		return
	}
	hs := q["info_hash"]
	if len(hs) == 0 {
		writeFailure(w, "full scrape not supported: give info_hash")
		return
	}
	if len(hs) > maxScrapeHashes {
		writeFailure(w, "too many info_hash parameters")
		return
	}
	files := make(map[string]scrapeFile, len(hs))
	for _, h := range hs {
		if len(h) != 20 {
			writeFailure(w, "invalid info_hash: must be 20 bytes")
			return
		}
		c, inc, d, ok := s.store.scrape([20]byte([]byte(h)))
		if ok {
			files[h] = scrapeFile{Complete: int64(c), Downloaded: int64(d), Incomplete: int64(inc)}
		}
	}
	b, err := bencode.Marshal(map[string]any{"files": files})
	if err != nil {
		s.log.Error("encode scrape", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	writeBody(w, b)
}
