package dht

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/effusion-bt/effusion/bencode"
)

// Bounds of the KRPC check.
const (
	// DefaultMaxPacket is the largest KRPC datagram accepted. KRPC messages
	// fit in one unfragmented datagram; the largest legitimate ones (a
	// get_peers answer with 100 IPv6 values and 8 IPv6 nodes) stay under
	// 3 KiB.
	DefaultMaxPacket = 8 << 10
	maxTransactionID = 64
	maxToken         = 256
	maxQueryName     = 32
	maxValues        = 200
	krpcDepth        = 8
)

// ErrKRPC is wrapped by every error of CheckKRPC: the datagram is not a
// KRPC message this node handles.
var ErrKRPC = errors.New("dht: malformed KRPC message")

// ErrUnsupportedQuery is returned (wrapping ErrKRPC) for BEP 44 put and
// get, which this node does not serve: the library's item store would
// otherwise grow without bound.
var ErrUnsupportedQuery = fmt.Errorf("%w: BEP 44 put/get is not served", ErrKRPC)

// CheckKRPC reports whether b is a well-formed KRPC message (BEP 5, with
// BEP 32, 33, 43 and 51 fields) before anacrolix/dht decodes it. It is
// stricter than the library in the places where the library panics or
// grows: a query must carry an argument dictionary with a 20-byte "id";
// a response a result dictionary with a 20-byte "id"; compact node lists
// must be whole entries, "values" and "ip" compact addresses of 6 or 18
// bytes, info-hashes and targets 20 bytes, tokens and transaction ids
// short, ports within 0..65535. BEP 44 put and get are refused
// (ErrUnsupportedQuery). Bytes after the message are ignored (some
// clients send them), nesting is capped at 8 levels and b at
// DefaultMaxPacket. The error wraps ErrKRPC and names the first fault.
// CheckKRPC is safe for concurrent use.
func CheckKRPC(b []byte) error {
	if len(b) > DefaultMaxPacket {
		return fmt.Errorf("%w: %d bytes exceeds %d", ErrKRPC, len(b), DefaultMaxPacket)
	}
	if len(b) < 2 || b[0] != 'd' {
		return fmt.Errorf("%w: not a bencoded dictionary", ErrKRPC)
	}
	dec := bencode.NewDecoder(bytes.NewReader(b))
	dec.SetLimits(bencode.Limits{MaxDepth: krpcDepth, MaxStringLen: DefaultMaxPacket,
		MaxSize: DefaultMaxPacket, MaxTokens: DefaultMaxPacket, AllowUnsorted: true})
	var msg map[string]any
	if err := dec.Decode(&msg); err != nil {
		return fmt.Errorf("%w: %v", ErrKRPC, err)
	}
	c := checker{m: msg}
	c.str("t", 0, maxTransactionID, true)
	c.compactAddr("ip")
	c.integer("ro", 0, 1)
	c.str("v", 0, 64, false)
	y := c.str("y", 1, 1, true)
	if c.err != nil {
		return c.err
	}
	switch y {
	case "q":
		q := c.str("q", 1, maxQueryName, true)
		if c.err != nil {
			return c.err
		}
		if q == "put" || q == "get" {
			return ErrUnsupportedQuery
		}
		a := c.dict("a")
		if c.err != nil {
			return c.err
		}
		checkArgs(&c, a, q)
	case "r":
		r := c.dict("r")
		if c.err != nil {
			return c.err
		}
		checkReturn(&c, r)
	case "e":
		switch msg["e"].(type) {
		case []any, string:
		default:
			return fmt.Errorf(`%w: "e" is not a list`, ErrKRPC)
		}
	default:
		return fmt.Errorf("%w: unknown message type %q", ErrKRPC, y)
	}
	return c.err
}

func checkArgs(c *checker, a map[string]any, q string) {
	ac := checker{m: a, path: "a."}
	ac.str("id", 20, 20, true)
	ac.str("info_hash", 20, 20, q == "get_peers" || q == "announce_peer")
	ac.str("target", 20, 20, q == "find_node")
	ac.str("token", 0, maxToken, q == "announce_peer")
	_, hasPort := a["port"]
	ac.integer("port", 0, 65535)
	implied := ac.integer("implied_port", 0, 1)
	if q == "announce_peer" && !hasPort && implied == 0 && ac.err == nil {
		ac.err = fmt.Errorf("%w: announce_peer without port", ErrKRPC)
	}
	ac.integer("noseed", 0, 1)
	ac.integer("scrape", 0, 1)
	if w, ok := a["want"]; ok && ac.err == nil {
		l, ok := w.([]any)
		if !ok || len(l) > 8 {
			ac.err = fmt.Errorf(`%w: "a.want" is not a short list`, ErrKRPC)
		}
		for _, e := range l {
			if s, ok := e.(string); !ok || len(s) > 8 {
				ac.err = fmt.Errorf(`%w: "a.want" holds a non-string`, ErrKRPC)
			}
		}
	}
	if c.err == nil {
		c.err = ac.err
	}
}

func checkReturn(c *checker, r map[string]any) {
	rc := checker{m: r, path: "r."}
	rc.str("id", 20, 20, true)
	rc.multiple("nodes", 26)
	rc.multiple("nodes6", 38)
	rc.multiple("samples", 20)
	rc.str("token", 0, maxToken, false)
	rc.str("BFsd", 256, 256, false)
	rc.str("BFpe", 256, 256, false)
	rc.str("k", 32, 32, false)
	rc.str("sig", 64, 64, false)
	rc.integer("seq", -1<<62, 1<<62)
	rc.integer("interval", -1<<62, 1<<62)
	rc.integer("num", -1<<62, 1<<62)
	if v, ok := r["values"]; ok && rc.err == nil {
		l, ok := v.([]any)
		if !ok || len(l) > maxValues {
			rc.err = fmt.Errorf(`%w: "r.values" is not a list of at most %d`, ErrKRPC, maxValues)
		}
		for _, e := range l {
			if s, ok := e.(string); !ok || len(s) != 6 && len(s) != 18 {
				rc.err = fmt.Errorf(`%w: "r.values" holds a value that is not a compact address`, ErrKRPC)
				break
			}
		}
	}
	if c.err == nil {
		c.err = rc.err
	}
}

// checker validates keys of one dictionary, keeping the first error.
type checker struct {
	m    map[string]any
	path string
	err  error
}

func (c *checker) fail(key, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %q %s", ErrKRPC, c.path+key, fmt.Sprintf(format, args...))
	}
}

func (c *checker) str(key string, minLen, maxLen int, required bool) string {
	v, ok := c.m[key]
	if !ok {
		if required {
			c.fail(key, "is missing")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		c.fail(key, "is not a string")
		return ""
	}
	if len(s) < minLen || len(s) > maxLen {
		c.fail(key, "has length %d, not %d..%d", len(s), minLen, maxLen)
	}
	return s
}

func (c *checker) integer(key string, lo, hi int64) int64 {
	v, ok := c.m[key]
	if !ok {
		return 0
	}
	n, ok := v.(int64)
	if !ok {
		c.fail(key, "is not an integer")
		return 0
	}
	if n < lo || n > hi {
		c.fail(key, "is %d, not in %d..%d", n, lo, hi)
	}
	return n
}

func (c *checker) dict(key string) map[string]any {
	v, ok := c.m[key]
	if !ok {
		c.fail(key, "is missing")
		return nil
	}
	d, ok := v.(map[string]any)
	if !ok {
		c.fail(key, "is not a dictionary")
	}
	return d
}

func (c *checker) compactAddr(key string) {
	if s, ok := c.m[key]; ok {
		if s, ok := s.(string); !ok || len(s) != 6 && len(s) != 18 {
			c.fail(key, "is not a compact address")
		}
	}
}

func (c *checker) multiple(key string, n int) {
	if s, ok := c.m[key]; ok {
		if s, ok := s.(string); !ok || len(s)%n != 0 {
			c.fail(key, "is not a whole number of %d-byte entries", n)
		}
	}
}
