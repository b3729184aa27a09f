package lsd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Bounds of a BEP 14 message.
const (
	// MaxMessage is the largest datagram parsed (BEP 14 asks senders to
	// stay under 1400 bytes; we allow some slack and drop the rest).
	MaxMessage = 2048
	// MaxInfoHashes is the most info-hashes one message carries, sent or
	// parsed (more are ignored).
	MaxInfoHashes = 20
	maxCookie     = 64
	maxLines      = 64
)

// ErrMessage is wrapped by every ParseMessage error.
var ErrMessage = errors.New("lsd: malformed announce")

// Message is one BEP 14 announce: a peer on the local network has the
// torrents InfoHashes at Port.
type Message struct {
	Host       string // the Host header: the group address and port
	Port       uint16
	InfoHashes [][20]byte
	Cookie     string // tells a sender its own announces apart
}

// Append appends m in the wire format:
//
//	BT-SEARCH * HTTP/1.1\r\nHost: ...\r\nPort: ...\r\nInfohash: ...\r\ncookie: ...\r\n\r\n\r\n
//
// At most MaxInfoHashes info-hashes are written.
func (m Message) Append(b []byte) []byte {
	b = append(b, "BT-SEARCH * HTTP/1.1\r\nHost: "...)
	b = append(b, m.Host...)
	b = append(b, "\r\nPort: "...)
	b = strconv.AppendUint(b, uint64(m.Port), 10)
	b = append(b, "\r\n"...)
	for _, ih := range m.InfoHashes[:min(len(m.InfoHashes), MaxInfoHashes)] {
		b = append(b, "Infohash: "...)
		b = hex.AppendEncode(b, ih[:])
		b = append(b, "\r\n"...)
	}
	if m.Cookie != "" {
		b = append(b, "cookie: "...)
		b = append(b, m.Cookie...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n\r\n"...)
}

// ParseMessage parses a BEP 14 announce. Header names are matched without
// regard to case, lines may end in CRLF or LF, unknown headers are
// ignored. It needs the BT-SEARCH request line, a Port in 1..65535 and at
// least one Infohash of 40 hex digits; info-hashes past MaxInfoHashes and
// duplicates are dropped. Input longer than MaxMessage, more than 64
// lines, or a cookie longer than 64 bytes is an error. Errors wrap
// ErrMessage.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if len(b) > MaxMessage {
		return m, fmt.Errorf("%w: %d bytes exceeds %d", ErrMessage, len(b), MaxMessage)
	}
	lines := 0
	first := true
	havePort := false
	for len(b) > 0 {
		if lines++; lines > maxLines {
			return m, fmt.Errorf("%w: more than %d lines", ErrMessage, maxLines)
		}
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if first {
			if !bytes.Equal(line, []byte("BT-SEARCH * HTTP/1.1")) {
				return m, fmt.Errorf("%w: not a BT-SEARCH request", ErrMessage)
			}
			first = false
			continue
		}
		if len(line) == 0 {
			continue
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			// A lone CR is a line break to some readers and not to
			// others: refused, so that what we accept reads the same
			// everywhere (and a value we keep never holds one).
			return m, fmt.Errorf("%w: a carriage return inside a line", ErrMessage)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return m, fmt.Errorf("%w: header line without a colon", ErrMessage)
		}
		value = bytes.TrimSpace(value)
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "host":
			if len(value) > 64 {
				return m, fmt.Errorf("%w: Host too long", ErrMessage)
			}
			m.Host = string(value)
		case "port":
			p, err := strconv.ParseUint(string(value), 10, 16)
			if err != nil || p == 0 {
				return m, fmt.Errorf("%w: bad Port %q", ErrMessage, truncate(value))
			}
			m.Port, havePort = uint16(p), true
		case "infohash":
			var ih [20]byte
			if len(value) != 40 {
				return m, fmt.Errorf("%w: Infohash %q is not 40 hex digits", ErrMessage, truncate(value))
			}
			if _, err := hex.Decode(ih[:], value); err != nil {
				return m, fmt.Errorf("%w: Infohash %q is not hex", ErrMessage, truncate(value))
			}
			if len(m.InfoHashes) < MaxInfoHashes && !contains(m.InfoHashes, ih) {
				m.InfoHashes = append(m.InfoHashes, ih)
			}
		case "cookie":
			if len(value) > maxCookie {
				return m, fmt.Errorf("%w: cookie longer than %d bytes", ErrMessage, maxCookie)
			}
			m.Cookie = string(value)
		}
	}
	if first {
		return m, fmt.Errorf("%w: empty", ErrMessage)
	}
	if !havePort {
		return m, fmt.Errorf("%w: no Port", ErrMessage)
	}
	if len(m.InfoHashes) == 0 {
		return m, fmt.Errorf("%w: no Infohash", ErrMessage)
	}
	return m, nil
}

func contains(l [][20]byte, ih [20]byte) bool {
	for _, x := range l {
		if x == ih {
			return true
		}
	}
	return false
}

func truncate(b []byte) string {
	if len(b) > 48 {
		b = b[:48]
	}
	return string(b)
}

// Groups of BEP 14.
var (
	Group4 = &net.UDPAddr{IP: net.IPv4(239, 192, 152, 143), Port: 6771}
	Group6 = &net.UDPAddr{IP: net.ParseIP("ff15::efc0:988f"), Port: 6771}
)
