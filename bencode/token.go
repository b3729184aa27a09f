package bencode

import "math"

// Default limits. A .torrent of 2^21 pieces carries a 40 MiB "pieces" string,
// hence the string and size defaults; callers that read from the network
// (trackers, DHT, extension messages) should pass tighter Limits.
const (
	DefaultMaxDepth     = 64
	DefaultMaxStringLen = 64 << 20
	DefaultMaxSize      = 64 << 20
	DefaultMaxTokens    = 3_000_000 // libtorrent's max_decode_tokens
)

// Limits bound the resources one decoded value may use. A zero field means
// the default; a negative MaxStringLen, MaxSize or MaxTokens means no limit
// (the input length still bounds everything for Unmarshal).
type Limits struct {
	MaxDepth     int   // nesting depth of lists and dictionaries (64)
	MaxStringLen int   // bytes in one string (64 MiB)
	MaxSize      int64 // bytes in one whole value (64 MiB)
	// MaxTokens caps the number of values (integers, strings, dictionary
	// keys, lists, dictionaries) in one decoded value (3,000,000), which
	// bounds the memory decoding can allocate per input byte.
	MaxTokens int
	// AllowUnsorted accepts dictionary keys in any order. Duplicate keys
	// are still refused. It is meant for input from the network (tracker
	// responses, extension messages), where some clients send unsorted
	// dictionaries; leave it off for .torrent files, whose info dictionary
	// must be canonical for its hash to be reproducible. Values decoded
	// with it re-encode sorted, so the bytes may differ from the input;
	// a RawMessage keeps the input's bytes, which Marshal then refuses if
	// they hold unsorted keys (it checks RawMessages strictly).
	AllowUnsorted bool
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxStringLen == 0 {
		l.MaxStringLen = DefaultMaxStringLen
	} else if l.MaxStringLen < 0 {
		l.MaxStringLen = math.MaxInt
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = DefaultMaxTokens
	} else if l.MaxTokens < 0 {
		l.MaxTokens = math.MaxInt
	}
	if l.MaxSize == 0 {
		l.MaxSize = DefaultMaxSize
	} else if l.MaxSize < 0 {
		l.MaxSize = math.MaxInt64
	}
	return l
}

// readInt parses the integer token that starts at b[pos] == 'i' and returns
// its value and the offset just past its 'e'. Integers have no leading zeros,
// no "-0", no '+', and must fit in an int64. The token is at most 22 bytes,
// so a streaming reader never buffers more than that looking for its end.
func readInt(b []byte, pos int) (int64, int, error) {
	i := pos + 1
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var u uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c == 'e' {
			break
		}
		if c < '0' || c > '9' {
			return 0, 0, syntaxErr(i, "expected a digit or 'e' in integer, found %s", quoteByte(b, i))
		}
		if i > start && b[start] == '0' {
			return 0, 0, syntaxErr(start, "leading zero in integer")
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, 0, syntaxErr(pos, "integer does not fit in int64")
		}
		u = u*10 + uint64(c-'0')
	}
	if i >= len(b) {
		return 0, 0, shortErr(len(b), "integer")
	}
	if i == start {
		return 0, 0, syntaxErr(i, "expected a digit in integer, found 'e'")
	}
	if neg {
		if u == 0 {
			return 0, 0, syntaxErr(pos+1, "negative zero")
		}
		if u > 1<<63 {
			return 0, 0, syntaxErr(pos, "integer does not fit in int64")
		}
		return int64(-u), i + 1, nil
	}
	if u > math.MaxInt64 {
		return 0, 0, syntaxErr(pos, "integer does not fit in int64")
	}
	return int64(u), i + 1, nil
}

// readStrHeader parses the "N:" length prefix of a string starting at b[pos]
// (a digit) and returns N and the offset of the first byte of the string. It
// checks N against maxLen but not against the remaining input: callers do
// that before touching the bytes, so no claimed length is ever allocated.
func readStrHeader(b []byte, pos int, maxLen int) (int, int, error) {
	i := pos
	n := 0
	for ; i < len(b); i++ {
		c := b[i]
		if c == ':' {
			break
		}
		if c < '0' || c > '9' {
			return 0, 0, syntaxErr(i, "expected a digit or ':' in string length, found %s", quoteByte(b, i))
		}
		if i > pos && b[pos] == '0' {
			return 0, 0, syntaxErr(pos, "leading zero in string length")
		}
		if n > (math.MaxInt32-9)/10 {
			return 0, 0, limitErr(pos, "string length exceeds the limit of %d bytes", maxLen)
		}
		n = n*10 + int(c-'0')
	}
	if i >= len(b) {
		return 0, 0, shortErr(len(b), "string length")
	}
	if n > maxLen {
		return 0, 0, limitErr(pos, "string length %d exceeds the limit of %d bytes", n, maxLen)
	}
	return n, i + 1, nil
}

// valueStart describes what may start a value, for error messages.
const valueStart = "expected 'i', 'l', 'd' or a string length"
