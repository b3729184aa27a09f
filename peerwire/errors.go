package peerwire

import (
	"errors"
	"fmt"
)

// Sentinel errors wrapped by [*ProtocolError]; branch on them with errors.Is.
var (
	// ErrBadHandshake: the 68-byte handshake is not BitTorrent's (wrong
	// pstrlen or protocol string; an encrypted stream also looks like this).
	ErrBadHandshake = errors.New("bad handshake")
	// ErrFrameTooLarge: a length prefix above the largest legal message.
	ErrFrameTooLarge = errors.New("frame too large")
	// ErrBadLength: a frame whose length does not fit its message id.
	ErrBadLength = errors.New("bad message length")
	// ErrBadBitfield: wrong bitfield length, or spare bits set.
	ErrBadBitfield = errors.New("bad bitfield")
	// ErrBadIndex: a piece index at or beyond the piece count.
	ErrBadIndex = errors.New("piece index out of range")
	// ErrBadBlock: a block that is empty, above MaxBlockLen, or not inside
	// its piece.
	ErrBadBlock = errors.New("bad block")
	// ErrRequestTooLarge: an incoming request longer than the reader's
	// MaxRequestLen.
	ErrRequestTooLarge = errors.New("request too large")
	// ErrBadExtended: a malformed BEP 10 extended handshake, or one longer
	// than MaxExtendedHandshake.
	ErrBadExtended = errors.New("bad extended handshake")
	// ErrBadMetadata: a malformed BEP 9 ut_metadata message (not a
	// dictionary, a missing or out-of-range field, a data piece of the
	// wrong size, bytes after a request or reject).
	ErrBadMetadata = errors.New("bad ut_metadata message")
	// ErrBadPex: a malformed BEP 11 ut_pex message (not a dictionary, a
	// compact list whose length is not a multiple of the entry size, a
	// payload above MaxPexLen).
	ErrBadPex = errors.New("bad ut_pex message")
	// ErrNoPayload: ReadPayload called with no piece payload pending, or
	// with a buffer whose length differs from the pending payload.
	ErrNoPayload = errors.New("no matching piece payload pending")
)

// ProtocolError describes a peer's message that breaks the protocol: which
// message, which field, the value received and the limit it broke.
type ProtocolError struct {
	Msg   string // message name ("handshake", "piece", "bitfield", ...)
	Field string // offending field ("length", "pstrlen", "spare bits", ...)
	Value int64  // value received
	Limit int64  // the bound it broke, when there is one (0 otherwise)
	Err   error  // one of the sentinel errors above
}

func (e *ProtocolError) Error() string {
	if e.Limit != 0 {
		return fmt.Sprintf("peerwire: %s: %s %d (limit %d): %v", e.Msg, e.Field, e.Value, e.Limit, e.Err)
	}
	return fmt.Sprintf("peerwire: %s: %s %d: %v", e.Msg, e.Field, e.Value, e.Err)
}

// Unwrap returns the sentinel error.
func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(id MessageID, field string, value, limit int64, err error) error {
	return &ProtocolError{Msg: id.String(), Field: field, Value: value, Limit: limit, Err: err}
}
