package tracker

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/effusion-bt/effusion/bencode"
)

// maxIntervalSeconds bounds intervals from a tracker (a week) so that a huge
// value cannot overflow time.Duration or park an announcer forever.
const maxIntervalSeconds = 7 * 24 * 3600

// netLimits accept dictionaries with unsorted keys (duplicates are still
// refused): some trackers emit them, and refusing a whole announce response
// over key order would lose the swarm for nothing.
var netLimits = bencode.Limits{AllowUnsorted: true}

// unmarshal decodes a tracker body, or a value taken from one, with netLimits.
func unmarshal(data []byte, v any) error { return bencode.UnmarshalLimits(data, v, netLimits) }

// ParseAnnounceBody decodes an HTTP announce response body (dictionary keys
// in any order, but not repeated): failure reason
// (returned as a *FailureError with an empty URL), warning message, interval,
// min interval, tracker id, complete, incomplete, peers (compact string or a
// list of dictionaries) and peers6. At most maxPeers peers are kept (<= 0: no
// cap). Intervals are not clamped here (Client.Announce does that). Other
// errors wrap ErrBadResponse.
func ParseAnnounceBody(body []byte, maxPeers int) (*AnnounceResponse, error) {
	body = trimBody(body)
	var d map[string]bencode.RawMessage
	if err := unmarshal(body, &d); err != nil {
		return nil, &ParseError{Field: "body", Msg: err.Error()}
	}
	if raw, ok := d["failure reason"]; ok {
		var s []byte
		if err := unmarshal(raw, &s); err != nil {
			return nil, &ParseError{Field: "failure reason", Msg: "not a string"}
		}
		return nil, &FailureError{Reason: sanitizeText(s, MaxFailureReason)}
	}
	r := &AnnounceResponse{Complete: -1, Incomplete: -1}
	var err error
	str := func(key string) (string, error) {
		raw, ok := d[key]
		if !ok {
			return "", nil
		}
		var s []byte
		if err := unmarshal(raw, &s); err != nil {
			return "", &ParseError{Field: key, Msg: "not a string"}
		}
		return sanitizeText(s, MaxFailureReason), nil
	}
	num := func(key string, def int64, lo, hi int64) (int64, error) {
		raw, ok := d[key]
		if !ok {
			return def, nil
		}
		var n int64
		if err := unmarshal(raw, &n); err != nil {
			return 0, &ParseError{Field: key, Msg: "not an integer"}
		}
		return min(max(n, lo), hi), nil
	}
	if r.Warning, err = str("warning message"); err != nil {
		return nil, err
	}
	if r.TrackerID, err = str("tracker id"); err != nil {
		return nil, err
	}
	iv, err := num("interval", 0, 0, maxIntervalSeconds)
	if err != nil {
		return nil, err
	}
	miv, err := num("min interval", 0, 0, maxIntervalSeconds)
	if err != nil {
		return nil, err
	}
	r.Interval, r.MinInterval = time.Duration(iv)*time.Second, time.Duration(miv)*time.Second
	c, err := num("complete", -1, 0, 1<<31-1)
	if err != nil {
		return nil, err
	}
	inc, err := num("incomplete", -1, 0, 1<<31-1)
	if err != nil {
		return nil, err
	}
	if _, ok := d["complete"]; ok {
		r.Complete = int(c)
	}
	if _, ok := d["incomplete"]; ok {
		r.Incomplete = int(inc)
	}
	if raw, ok := d["peers"]; ok {
		if r.Peers, err = parsePeers(r.Peers, raw, false, maxPeers); err != nil {
			return nil, err
		}
	}
	if raw, ok := d["peers6"]; ok {
		if r.Peers, err = parsePeers(r.Peers, raw, true, maxPeers); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// trimBody drops trailing whitespace some trackers append (a newline after
// the dictionary); a dictionary ends in 'e', so nothing valid is lost.
func trimBody(b []byte) []byte {
	return bytes.TrimRight(b, " \t\r\n")
}

// dictPeer is one entry of a non-compact peer list.
type dictPeer struct {
	IP   string `bencode:"ip"`
	Port int64  `bencode:"port"`
}

// parsePeers decodes a peers value: a compact string, or a list of
// dictionaries whose entries with a non-IP "ip" (BEP 3 allows DNS names) or a
// bad port are skipped.
func parsePeers(dst []netip.AddrPort, raw bencode.RawMessage, ipv6 bool, maxPeers int) ([]netip.AddrPort, error) {
	field := "peers"
	if ipv6 {
		field = "peers6"
	}
	if len(raw) > 0 && raw[0] >= '0' && raw[0] <= '9' {
		var b []byte
		if err := unmarshal(raw, &b); err != nil {
			return dst, &ParseError{Field: field, Msg: err.Error()}
		}
		return ParseCompactPeers(dst, b, ipv6, maxPeers)
	}
	if len(raw) == 0 || raw[0] != 'l' {
		return dst, &ParseError{Field: field, Msg: "neither a string nor a list"}
	}
	var list []bencode.RawMessage
	if err := unmarshal(raw, &list); err != nil {
		return dst, &ParseError{Field: field, Msg: err.Error()}
	}
	for i, e := range list {
		if maxPeers > 0 && len(dst) >= maxPeers {
			break
		}
		var p dictPeer
		if err := unmarshal(e, &p); err != nil {
			return dst, &ParseError{Field: fmt.Sprintf("%s[%d]", field, i), Msg: err.Error()}
		}
		a, err := netip.ParseAddr(p.IP)
		if err != nil || p.Port <= 0 || p.Port > 65535 {
			continue
		}
		a = a.Unmap()
		if !usablePeer(a, uint16(p.Port)) {
			continue
		}
		dst = append(dst, netip.AddrPortFrom(a, uint16(p.Port)))
	}
	return dst, nil
}

type scrapeFile struct {
	Complete   int64 `bencode:"complete"`
	Downloaded int64 `bencode:"downloaded"`
	Incomplete int64 `bencode:"incomplete"`
}

// MaxScrapeFiles caps the entries kept from one scrape response.
const MaxScrapeFiles = 1000

// ParseScrapeBody decodes an HTTP scrape response (keys in any order, not
// repeated): "files" maps each 20-byte
// info-hash to complete/downloaded/incomplete. Keys that are not 20 bytes are
// skipped; a failure reason is a *FailureError; other errors wrap ErrBadResponse.
func ParseScrapeBody(body []byte) (map[[20]byte]ScrapeStats, error) {
	body = trimBody(body)
	var d map[string]bencode.RawMessage
	if err := unmarshal(body, &d); err != nil {
		return nil, &ParseError{Field: "body", Msg: err.Error()}
	}
	if raw, ok := d["failure reason"]; ok {
		var s []byte
		if err := unmarshal(raw, &s); err != nil {
			return nil, &ParseError{Field: "failure reason", Msg: "not a string"}
		}
		return nil, &FailureError{Reason: sanitizeText(s, MaxFailureReason)}
	}
	raw, ok := d["files"]
	if !ok {
		return nil, &ParseError{Field: "files", Msg: "missing"}
	}
	var files map[string]bencode.RawMessage
	if err := unmarshal(raw, &files); err != nil {
		return nil, &ParseError{Field: "files", Msg: err.Error()}
	}
	out := make(map[[20]byte]ScrapeStats, min(len(files), MaxScrapeFiles))
	for k, v := range files {
		if len(k) != 20 || len(out) >= MaxScrapeFiles {
			continue
		}
		var f scrapeFile
		if err := unmarshal(v, &f); err != nil {
			return nil, &ParseError{Field: "files entry", Msg: err.Error()}
		}
		out[[20]byte([]byte(k))] = ScrapeStats{
			Complete:   int(min(max(f.Complete, 0), 1<<31-1)),
			Downloaded: int(min(max(f.Downloaded, 0), 1<<31-1)),
			Incomplete: int(min(max(f.Incomplete, 0), 1<<31-1)),
		}
	}
	return out, nil
}
