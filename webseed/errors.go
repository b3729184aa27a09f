package webseed

import (
	"errors"
	"strconv"
	"time"
)

// Sentinel errors. Fetch errors wrap one of them (errors.Is); the typed
// errors below carry what was wrong.
var (
	// ErrBadURL: the web seed URL cannot be used (syntax, scheme, no host,
	// user info, too long).
	ErrBadURL = errors.New("webseed: bad url")
	// ErrRange: Fetch was asked for bytes outside the torrent (a caller
	// bug; the seed is not charged).
	ErrRange = errors.New("webseed: range outside the torrent")
	// ErrUnavailable: the seed cannot serve these bytes (a file is missing
	// there, has another size, or lies beyond what a server that ignores
	// Range may be asked for). The error is an *UnavailableError; the
	// pieces concerned are no longer Servable.
	ErrUnavailable = errors.New("webseed: not available from this seed")
	// ErrBackingOff: the seed failed recently and is not asked again until
	// its backoff ends (a *BackoffError says when).
	ErrBackingOff = errors.New("webseed: backing off")
	// ErrDropped: the seed was dropped (Drop, Close, or MaxStrikes bad
	// pieces) and serves nothing more.
	ErrDropped = errors.New("webseed: seed dropped")
	// ErrBadData: the reason recorded when Strike drops a seed.
	ErrBadData = errors.New("webseed: sent data that failed verification")
	// ErrTimeout: a request made no progress (no response headers, or no
	// further block of the body) within Config.Timeout.
	ErrTimeout = errors.New("webseed: no progress within the timeout")
	// ErrStatus: an HTTP status the seed cannot be used with (5xx, 429,
	// 403, ...); the error is a *StatusError.
	ErrStatus = errors.New("webseed: unexpected http status")
	// ErrShortBody: the body ended (or declared a length) before the bytes
	// asked for.
	ErrShortBody = errors.New("webseed: body shorter than asked")
	// ErrLongBody: the body declared, or carried, more bytes than asked.
	ErrLongBody = errors.New("webseed: body longer than asked")
	// ErrBadResponse: a malformed or mismatched response (Content-Range
	// not the range asked, a compressed body).
	ErrBadResponse = errors.New("webseed: malformed response")
	// ErrRangeIgnored: the server answered a range request with the whole
	// file (200) and the bytes asked lie further in than Config.MaxSkip.
	// It comes wrapped in an *UnavailableError.
	ErrRangeIgnored = errors.New("webseed: server ignores range requests")
	// ErrForbiddenAddress: a dial or redirect was refused by the address
	// policy (a public seed may not lead to a private or loopback address).
	ErrForbiddenAddress = errors.New("webseed: forbidden address")
	// ErrTooManyRedirects: more than Config.MaxRedirects redirects, or a
	// redirect to a scheme other than http and https.
	ErrTooManyRedirects = errors.New("webseed: too many redirects")
)

// UnavailableError says which file of the torrent a seed cannot serve and
// why. errors.Is matches both ErrUnavailable and the cause (a *StatusError
// for 404, 410 and 416, ErrRangeIgnored, or ErrBadResponse for a file of
// another size).
type UnavailableError struct {
	File int    // index in Info.Files
	Path string // the file's path in the torrent, '/'-separated
	Err  error  // the cause
}

func (e *UnavailableError) Error() string {
	return "webseed: file " + strconv.Itoa(e.File) + " (" + e.Path + ") not available: " + e.Err.Error()
}

// Unwrap returns ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// BackoffError is returned by Fetch while the seed backs off after a
// failure: it will not be asked again before Until.
type BackoffError struct {
	Until time.Time
}

func (e *BackoffError) Error() string {
	return "webseed: backing off until " + e.Until.Format(time.RFC3339Nano)
}

// Unwrap returns ErrBackingOff.
func (e *BackoffError) Unwrap() error { return ErrBackingOff }

// StatusError is an HTTP status that ended a request.
type StatusError struct {
	Code int
	// RetryAfter is the server's Retry-After (a 429 or 503 asking for a
	// pause), zero when absent or unreadable; the backoff honours it up
	// to Config.BackoffMax.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return "webseed: http status " + strconv.Itoa(e.Code)
}

// Unwrap returns ErrStatus.
func (e *StatusError) Unwrap() error { return ErrStatus }
