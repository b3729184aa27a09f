package webseed

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// maxDigits bounds the numbers of a Content-Range (2^63 has 19 digits).
const maxDigits = 19

// parseContentRange reads a single-range Content-Range value, "bytes
// first-last/size" or "bytes first-last/*", as RFC 9110 §14.4 defines it;
// size is -1 when unknown. It accepts nothing else (no unsatisfied-range
// form, no spaces inside, no number over 19 digits), and first <= last <
// size. Errors wrap ErrBadResponse.
func parseContentRange(v string) (first, last, size int64, err error) {
	bad := func(why string) (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("%w: content-range %q: %s", ErrBadResponse, truncate(v, 64), why)
	}
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return bad("not a byte range")
	}
	if first, rest, ok = number(rest); !ok || !strings.HasPrefix(rest, "-") {
		return bad("no first byte")
	}
	if last, rest, ok = number(rest[1:]); !ok || !strings.HasPrefix(rest, "/") {
		return bad("no last byte")
	}
	rest = rest[1:]
	if rest == "*" {
		size = -1
	} else if size, rest, ok = number(rest); !ok || rest != "" {
		return bad("no complete length")
	}
	if last < first || (size >= 0 && last >= size) {
		return bad("an impossible range")
	}
	return first, last, size, nil
}

// number reads a non-negative decimal of 1 to maxDigits digits that fits
// an int64, and returns the rest of s.
func number(s string) (int64, string, bool) {
	i := 0
	var n int64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if i == maxDigits {
			return 0, s, false
		}
		d := int64(s[i] - '0')
		if n > (1<<63-1-d)/10 {
			return 0, s, false
		}
		n = n*10 + d
		i++
	}
	return n, s[i:], i > 0
}

// maxRetryAfter bounds a server's Retry-After before it meets BackoffMax.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads Retry-After, delay-seconds or an HTTP date (RFC
// 9110 §10.2.3), as a duration from now; zero when absent, unreadable or
// past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, rest, ok := number(v); ok && rest == "" {
		return min(time.Duration(min(n, int64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter)
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryAfter)
}
