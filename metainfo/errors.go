package metainfo

import (
	"errors"
	"fmt"
)

// Sentinel errors, wrapped by *FieldError (test with errors.Is).
var (
	// ErrV2Only: a pure BitTorrent v2 torrent (BEP 52 without a v1 part).
	ErrV2Only = errors.New("v2-only torrents are not yet supported")
	// ErrLimit: a size or count limit was exceeded (piece count, file
	// count, path depth, duplicate names, file size).
	ErrLimit = errors.New("limit exceeded")
	// ErrUnsafePath: a path would leave the download directory.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrMalformed: anything else wrong with a field.
	ErrMalformed = errors.New("malformed")
	// ErrInfoHash: an info dictionary whose SHA-1 is not the info-hash it
	// was fetched for.
	ErrInfoHash = errors.New("info-hash mismatch")
)

// FieldError says which field of a torrent (or magnet URI) is wrong and
// how: Error() reads "info.pieces: length 39 is not a multiple of 20". Field
// is a dotted path as it appears in the file ("info.files[3].path[0]");
// empty when the whole input is at fault (e.g. not bencode). Err is one of
// the sentinels above or the underlying (bencode) error.
type FieldError struct {
	Field string
	Msg   string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Unwrap returns the sentinel or underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: err}
}

func malformed(field string, format string, args ...any) *FieldError {
	return fieldErr(field, ErrMalformed, format, args...)
}
