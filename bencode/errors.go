package bencode

import (
	"errors"
	"fmt"
	"io"
	"reflect"
)

// ErrLimit is wrapped by every *SyntaxError that reports a configured limit
// being exceeded (nesting depth, string length, total size), so callers can
// tell hostile or oversized input from merely malformed input with errors.Is.
var ErrLimit = errors.New("limit exceeded")

// SyntaxError reports malformed bencode: the byte offset (from the start of
// the value being decoded) where the problem was found and what was expected.
// Err is nil, ErrLimit for a limit, or io.ErrUnexpectedEOF when the input
// ends inside a value.
type SyntaxError struct {
	Offset int64
	Msg    string
	Err    error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("bencode: syntax error at offset %d: %s", e.Offset, e.Msg)
}

// Unwrap returns ErrLimit, io.ErrUnexpectedEOF or nil.
func (e *SyntaxError) Unwrap() error { return e.Err }

// UnmarshalTypeError reports a well-formed value that does not fit the Go
// type it is decoded into (a string into an int, an integer out of range for
// an int8, a list of the wrong length for an array, ...). Field is the path of
// the value from the top (e.g. "info.files[2].length"), empty at the top.
type UnmarshalTypeError struct {
	Value  string // "integer", "string", "list", "dictionary", or a description such as "integer 300"
	Type   reflect.Type
	Offset int64
	Field  string
}

func (e *UnmarshalTypeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("bencode: cannot decode %s into %s field %s (offset %d)", e.Value, e.Type, e.Field, e.Offset)
	}
	return fmt.Sprintf("bencode: cannot decode %s into %s (offset %d)", e.Value, e.Type, e.Offset)
}

// InvalidUnmarshalError reports a bad argument to Unmarshal or Decode: v must
// be a non-nil pointer.
type InvalidUnmarshalError struct {
	Type reflect.Type
}

func (e *InvalidUnmarshalError) Error() string {
	if e.Type == nil {
		return "bencode: Unmarshal(nil)"
	}
	if e.Type.Kind() != reflect.Pointer {
		return "bencode: Unmarshal(non-pointer " + e.Type.String() + ")"
	}
	return "bencode: Unmarshal(nil " + e.Type.String() + ")"
}

// UnsupportedTypeError reports a Go type that has no bencode form (floats,
// complex numbers, channels, functions, maps with non-string keys).
type UnsupportedTypeError struct {
	Type reflect.Type
}

func (e *UnsupportedTypeError) Error() string {
	return "bencode: unsupported type " + e.Type.String()
}

// UnsupportedValueError reports a value that cannot be encoded although its
// type can: a nil pointer or interface where a value is required (bencode has
// no null), or a Marshaler that produced invalid bencode.
type UnsupportedValueError struct {
	Value reflect.Value
	Str   string
}

func (e *UnsupportedValueError) Error() string { return "bencode: unsupported value: " + e.Str }

// MarshalerError wraps an error returned by a Marshaler or Unmarshaler.
type MarshalerError struct {
	Type reflect.Type
	Err  error
}

func (e *MarshalerError) Error() string {
	return "bencode: error calling method of " + e.Type.String() + ": " + e.Err.Error()
}

// Unwrap returns the method's error.
func (e *MarshalerError) Unwrap() error { return e.Err }

func syntaxErr(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

func limitErr(off int, format string, args ...any) *SyntaxError {
	return &SyntaxError{Offset: int64(off), Msg: fmt.Sprintf(format, args...), Err: ErrLimit}
}

func shortErr(off int, what string) *SyntaxError {
	return &SyntaxError{Offset: int64(off), Msg: "unexpected end of input in " + what, Err: io.ErrUnexpectedEOF}
}

// isShort tells whether err means "the input ended inside a value", which the
// streaming decoder treats as "read more".
func isShort(err error) bool {
	se, ok := err.(*SyntaxError)
	return ok && se.Err == io.ErrUnexpectedEOF
}

// prependField records that err happened inside the value at key (a
// dictionary key) or index (a list index, key == "" and index >= 0).
func prependField(err error, key string, index int) error {
	te, ok := err.(*UnmarshalTypeError)
	if !ok {
		return err
	}
	var p string
	if index >= 0 {
		p = fmt.Sprintf("[%d]", index)
		if te.Field != "" && te.Field[0] != '[' {
			p += "."
		}
	} else {
		p = key
		if te.Field != "" && te.Field[0] != '[' {
			p += "."
		}
	}
	te.Field = p + te.Field
	return te
}

// quoteByte describes the byte at b[i] for error messages.
func quoteByte(b []byte, i int) string {
	if i >= len(b) {
		return "end of input"
	}
	return fmt.Sprintf("%q", b[i])
}
