package daemon

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
)

// rpcVersion is the Transmission RPC version spoken: 3.00's, which the
// clients in use send (old kebab and camelCase names; 4.x's snake_case
// names are accepted too).
const (
	rpcVersion        = 16
	rpcVersionMinimum = 14 // the "status" numbers changed in 14
)

// SessionIDHeader is Transmission's anti-CSRF header: a request without
// the daemon's current value gets 409 with the value to use.
const SessionIDHeader = "X-Transmission-Session-Id"

// rpcError is a method's failure: its text becomes the response's
// "result".
type rpcError struct{ msg string }

func (e *rpcError) Error() string { return e.msg }

func rpcErrorf(format string, a ...any) error { return &rpcError{fmt.Sprintf(format, a...)} }

// method answers one RPC method: it reads a and writes the members of the
// response's "arguments" object to w.
type method func(ctx context.Context, a args, w *jw) error

func (d *Daemon) methods() map[string]method {
	return map[string]method{
		"session_get":          d.sessionGet,
		"session_set":          d.sessionSet,
		"session_stats":        d.sessionStats,
		"session_close":        d.sessionClose,
		"free_space":           d.freeSpace,
		"port_test":            d.portTest,
		"blocklist_update":     unsupported("blocklist-update: there is no blocklist"),
		"torrent_get":          d.torrentGet,
		"torrent_add":          d.torrentAdd,
		"torrent_remove":       d.torrentRemove,
		"torrent_start":        d.torrentStart,
		"torrent_start_now":    d.torrentStart,
		"torrent_stop":         d.torrentStop,
		"torrent_verify":       d.torrentVerify,
		"torrent_set":          d.torrentSet,
		"torrent_reannounce":   unsupported("torrent-reannounce is not supported yet"),
		"torrent_set_location": unsupported("torrent-set-location is not supported yet"),
		"torrent_rename_path":  unsupported("torrent-rename-path is not supported yet"),
		// No queue: every torrent runs. Moving in it changes nothing.
		"queue_move_top":    d.queueMove,
		"queue_move_up":     d.queueMove,
		"queue_move_down":   d.queueMove,
		"queue_move_bottom": d.queueMove,
	}
}

func unsupported(msg string) method {
	return func(context.Context, args, *jw) error { return &rpcError{msg} }
}

// serveRPC is /transmission/rpc: the session-id handshake, then one JSON
// request per POST. Every answer a method gives, failures included, is a
// 200 with "result"; only transport problems (no session id, a body over
// the cap, a method other than POST) get other statuses.
func (d *Daemon) serveRPC(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(SessionIDHeader)), []byte(d.sid)) != 1 {
		w.Header().Set(SessionIDHeader, d.sid)
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, "<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p>"+
			"<p>To fix this, retry the request with the "+SessionIDHeader+" header this response carries.</p>")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "the RPC takes POST requests", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		http.Error(w, fmt.Sprintf("request body larger than %d bytes (a torrent may have %d MiB at most)", maxBody, maxTorrentSize>>20), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		return // the client went away
	}
	out := d.call(r.Context(), body)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(out)
}

type rpcRequest struct {
	Method    string          `json:"method"`
	Arguments json.RawMessage `json:"arguments"`
	Tag       json.RawMessage `json:"tag"`
}

// call runs one request and returns the encoded response.
func (d *Daemon) call(ctx context.Context, body []byte) []byte {
	var req rpcRequest
	var res error
	var a args
	if err := json.Unmarshal(body, &req); err != nil {
		res = rpcErrorf("the request is not a JSON object with a method: %v", err)
	} else if a, res = parseArgs(req.Arguments); res == nil {
		name := canon(req.Method)
		if m := d.rpcm[name]; m == nil {
			res = rpcErrorf("method name not recognized: %q", req.Method)
		} else {
			w := &jw{b: make([]byte, 0, 256)}
			w.obj()
			w.key("arguments")
			w.obj()
			if err := m(ctx, a, w); err != nil {
				res = err
			} else {
				w.endObj()
				w.kstr("result", "success")
				writeTag(w, req.Tag)
				w.endObj()
				return w.b
			}
		}
	}
	d.log.Debug("RPC request failed", "method", req.Method, "err", res)
	w := &jw{}
	w.obj()
	w.key("arguments")
	w.obj()
	w.endObj()
	var re *rpcError
	if errors.As(res, &re) {
		w.kstr("result", re.msg)
	} else {
		w.kstr("result", fmt.Sprintf("%s: %v", req.Method, res))
	}
	writeTag(w, req.Tag)
	w.endObj()
	return w.b
}

// writeTag echoes the request's tag when it is a number (the spec's) or a
// string (what some clients send).
func writeTag(w *jw, tag json.RawMessage) {
	t := bytes.TrimSpace(tag)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return
	}
	var n json.Number
	var s string
	switch {
	case json.Unmarshal(t, &n) == nil:
		w.key("tag")
		w.raw([]byte(n.String()))
	case json.Unmarshal(t, &s) == nil:
		w.kstr("tag", s)
	}
}

// canon maps a Transmission name to one form, whatever the spelling:
// kebab-case, camelCase and snake_case ("speed-limit-down", "downloadLimit",
// "download_limit") become snake_case, so that old and new clients'
// names meet.
func canon(k string) string {
	var b strings.Builder
	b.Grow(len(k) + 4)
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '-':
			b.WriteByte('_')
		case 'A' <= c && c <= 'Z':
			if i > 0 && k[i-1] != '-' && k[i-1] != '_' {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// args are a request's arguments, by canonical name (see canon).
type args map[string]arg

// arg is one argument: the name the client used (for messages) and its
// value.
type arg struct {
	name string
	raw  json.RawMessage
}

func parseArgs(raw json.RawMessage) (args, error) {
	a := args{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return a, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, rpcErrorf("\"arguments\" must be an object: %v", err)
	}
	for k, v := range m {
		a[canon(k)] = arg{k, v}
	}
	return a, nil
}

func (a args) has(k string) bool { _, ok := a[k]; return ok }

// argError names the argument that was wrong and what it should be.
func argError(k, want string) error {
	return rpcErrorf("argument %q: want %s", k, want)
}

// get returns the argument's value and the name the client gave it.
func (a args) get(k string) (json.RawMessage, string, bool) {
	v, ok := a[k]
	return v.raw, v.name, ok
}

func (a args) str(k string) (string, bool, error) {
	raw, name, ok := a.get(k)
	if !ok {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", true, argError(name, "a string")
	}
	return s, true, nil
}

// int reads an integer (a JSON number without a fraction).
func (a args) int(k string) (int64, bool, error) {
	raw, name, ok := a.get(k)
	if !ok {
		return 0, false, nil
	}
	v, ok := asInt(raw)
	if !ok {
		return 0, true, argError(name, "an integer")
	}
	return v, true, nil
}

func asInt(raw json.RawMessage) (int64, bool) {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func (a args) float(k string) (float64, bool, error) {
	raw, name, ok := a.get(k)
	if !ok {
		return 0, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, true, argError(name, "a number")
	}
	return f, true, nil
}

// bool reads true/false, or 0/1 (older clients send numbers).
func (a args) bool(k string) (bool, bool, error) {
	raw, name, ok := a.get(k)
	if !ok {
		return false, false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, true, nil
	}
	if n, ok := asInt(raw); ok && (n == 0 || n == 1) {
		return n == 1, true, nil
	}
	return false, true, argError(name, "true or false")
}

// ints reads an array of integers (a single integer is taken as one).
func (a args) ints(k string) ([]int64, bool, error) {
	raw, name, ok := a.get(k)
	if !ok {
		return nil, false, nil
	}
	if n, ok := asInt(raw); ok {
		return []int64{n}, true, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, true, argError(name, "an array of integers")
	}
	out := make([]int64, 0, len(list))
	for _, r := range list {
		n, ok := asInt(r)
		if !ok {
			return nil, true, argError(name, "an array of integers")
		}
		out = append(out, n)
	}
	return out, true, nil
}

func (a args) strs(k string) ([]string, bool, error) {
	raw, name, ok := a.get(k)
	if !ok {
		return nil, false, nil
	}
	var out []string
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, true, argError(name, "an array of strings")
	}
	return out, true, nil
}

// argSet reads the optional arguments of a setter (session-set,
// torrent-set) one after another and keeps the first error, so that the
// method reads everything it takes, checks once, and only then applies it.
type argSet struct {
	a   args
	err error
}

func (s *argSet) keep(err error) {
	if s.err == nil {
		s.err = err
	}
}

// get reads argument k with one of args' readers (args.str, args.int,
// ...), keeping the first error.
func get[T any](s *argSet, read func(args, string) (T, bool, error), k string) (T, bool) {
	v, ok, err := read(s.a, k)
	s.keep(err)
	return v, ok
}

// count reads an integer that must be at least 0.
func (s *argSet) count(k string) (int64, bool) {
	v, ok, err := s.a.int(k)
	if err == nil && ok && v < 0 {
		err = argError(s.a[k].name, "a number at least 0")
	}
	s.keep(err)
	return v, ok
}

// selection is what "ids" chose.
type selection struct {
	entries []*entry
	recent  bool  // "recently-active"
	removed []int // with recent: ids removed within the window
}

// selectIDs reads "ids": absent, every torrent; a number; a hash string;
// "recently-active"; or an array of numbers and hash strings (ids that
// match nothing are left out, as Transmission does).
func (d *Daemon) selectIDs(a args) (selection, error) {
	raw, _, ok := a.get("ids")
	if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return selection{entries: d.reg.all()}, nil
	}
	if n, ok := asInt(raw); ok {
		var sel selection
		if e := d.reg.byIDs(int(n)); e != nil {
			sel.entries = append(sel.entries, e)
		}
		return sel, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "recently-active" || s == "recently_active" {
			es, removed := d.reg.recent(time.Now().Add(-recentWindow))
			return selection{entries: es, recent: true, removed: removed}, nil
		}
		e, err := d.byHashString(s)
		if err != nil {
			return selection{}, err
		}
		var sel selection
		if e != nil {
			sel.entries = append(sel.entries, e)
		}
		return sel, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return selection{}, argError("ids", `a torrent id, a hash string, an array of them, or "recently-active"`)
	}
	var sel selection
	seen := map[*entry]bool{}
	for _, r := range list {
		var e *entry
		if n, ok := asInt(r); ok {
			e = d.reg.byIDs(int(n))
		} else if json.Unmarshal(r, &s) == nil {
			var err error
			if e, err = d.byHashString(s); err != nil {
				return selection{}, err
			}
		} else {
			return selection{}, argError("ids", "torrent ids and hash strings")
		}
		if e != nil && !seen[e] {
			seen[e] = true
			sel.entries = append(sel.entries, e)
		}
	}
	return sel, nil
}

// byHashString finds a torrent by its info-hash in hex (nil when there is
// none); anything but 40 hex digits is an error.
func (d *Daemon) byHashString(s string) (*entry, error) {
	var ih [20]byte
	if len(s) != 40 {
		return nil, rpcErrorf("ids: %q is neither a torrent id nor a 40-digit hash string", s)
	}
	if _, err := hex.Decode(ih[:], []byte(s)); err != nil {
		return nil, rpcErrorf("ids: %q is neither a torrent id nor a 40-digit hash string", s)
	}
	return d.reg.byInfoHash(ih), nil
}
