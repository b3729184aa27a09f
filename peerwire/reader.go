package peerwire

import (
	"bufio"
	"encoding/binary"
	"io"
)

// DefaultReadBuffer is the Reader's buffer size when none is given: large
// enough that one read from the socket usually brings in several messages.
const DefaultReadBuffer = 32 << 10

// minReadBuffer holds the largest fixed-size message (a 17-byte request),
// which is decoded in place with Peek.
const minReadBuffer = 64

// ReaderOptions configures a [Reader]. The zero value is usable: piece count
// unknown, 16 KiB requests, 1 MiB extended messages.
type ReaderOptions struct {
	// NumPieces is the torrent's piece count, or 0 while it is not known
	// (a magnet link before the metadata arrives). When known, a bitfield
	// must be exactly ceil(NumPieces/8) bytes with spare bits zero, and the
	// index of have, request, cancel, piece, suggest, reject and allowed
	// fast must be below it. When unknown, a bitfield may be up to
	// MaxPieces/8 bytes and indices are not checked.
	NumPieces int
	// MaxRequestLen caps the length of an incoming request; 0 means
	// BlockSize. Values above MaxBlockLen are treated as MaxBlockLen.
	MaxRequestLen int
	// MaxExtendedLen caps an extended message's payload; 0 (or anything
	// above MaxExtendedLen) means MaxExtendedLen.
	MaxExtendedLen int
	// HeaderOnlyExtended returns extended messages like pieces: the
	// message carries ExtID and the payload's Length, and the payload stays
	// in the stream for ReadPayload (into the caller's buffer) or
	// DiscardPayload (skipped without allocating; ReadMessage skips it if
	// neither was called). Otherwise ExtPayload is a fresh copy.
	HeaderOnlyExtended bool
	// BufferSize is the read buffer size; 0 means DefaultReadBuffer, and
	// sizes below 64 bytes are raised to 64. If the
	// io.Reader given to NewReader is a *bufio.Reader at least this large,
	// it is used as is (so bytes it already buffered are not lost).
	BufferSize int
}

// Reader decodes peer wire messages from a stream. It is not safe for
// concurrent use; one goroutine per connection reads from it.
type Reader struct {
	br        *bufio.Reader
	numPieces int
	maxReq    uint32
	maxExt    int
	maxFrame  uint32
	lazyExt   bool
	pending   int // bytes of piece (or extended) payload still in the stream
}

// NewReader returns a Reader decoding from r.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	size := opts.BufferSize
	if size <= 0 {
		size = DefaultReadBuffer
	}
	size = max(size, minReadBuffer)
	rd := &Reader{br: bufio.NewReaderSize(r, size)}
	rd.maxReq = BlockSize
	if opts.MaxRequestLen > 0 {
		rd.maxReq = uint32(min(opts.MaxRequestLen, MaxBlockLen))
	}
	rd.maxExt = MaxExtendedLen
	if opts.MaxExtendedLen > 0 && opts.MaxExtendedLen < MaxExtendedLen {
		rd.maxExt = opts.MaxExtendedLen
	}
	rd.lazyExt = opts.HeaderOnlyExtended
	rd.SetNumPieces(opts.NumPieces)
	return rd
}

// SetNumPieces sets the piece count once it becomes known (after the
// metadata of a magnet link is fetched). n <= 0 means unknown.
func (r *Reader) SetNumPieces(n int) {
	r.numPieces = max(n, 0)
	bf := MaxPieces / 8
	if r.numPieces > 0 {
		bf = (r.numPieces + 7) / 8
	}
	// The largest legal frame: a piece with the largest block, a bitfield,
	// or an extended message.
	r.maxFrame = uint32(max(9+MaxBlockLen, 1+bf, 2+r.maxExt))
}

// MaxFrame returns the largest frame length (the 4-byte prefix's value) the
// reader accepts with its current settings.
func (r *Reader) MaxFrame() int { return int(r.maxFrame) }

// Buffered returns the number of bytes already read from the stream but not
// yet decoded.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// Pending returns the length of the piece payload that the last
// ReadMessage left in the stream (0 if none).
func (r *Reader) Pending() int { return r.pending }

// ReadMessage decodes the next message. For a piece it decodes the header
// only: Length is the block length and the block itself must then be read
// with ReadPayload (or skipped with DiscardPayload; ReadMessage skips it if
// neither was called). Request, have, cancel and piece headers are decoded
// without allocating.
//
// A clean end of stream before a message yields io.EOF; an end inside a
// message yields io.ErrUnexpectedEOF. Input breaking the protocol yields a
// [*ProtocolError]; the connection should then be closed.
func (r *Reader) ReadMessage() (Message, error) {
	if r.pending > 0 {
		if err := r.DiscardPayload(); err != nil {
			return Message{}, err
		}
	}
	// Fast path: with a whole header (17 bytes, a request) buffered, one
	// peek serves the length, the id and every fixed field.
	var p []byte
	var err error
	if r.br.Buffered() >= 17 {
		p, _ = r.br.Peek(17)
	} else if p, err = r.br.Peek(4); err != nil {
		return Message{}, eof(err, len(p) > 0)
	}
	n := binary.BigEndian.Uint32(p)
	if n == 0 {
		r.br.Discard(4)
		return Message{ID: MsgKeepAlive}, nil
	}
	if n > r.maxFrame {
		return Message{}, &ProtocolError{Msg: "frame", Field: "length", Value: int64(n), Limit: int64(r.maxFrame), Err: ErrFrameTooLarge}
	}
	if p, err = r.need(p, 5); err != nil {
		return Message{}, err
	}
	id := MessageID(p[4])
	switch id {
	case MsgChoke, MsgUnchoke, MsgInterested, MsgNotInterested, MsgHaveAll, MsgHaveNone:
		if n != 1 {
			return Message{}, protoErr(id, "length", int64(n), 1, ErrBadLength)
		}
		r.br.Discard(5)
		return Message{ID: id}, nil
	case MsgHave, MsgSuggest, MsgAllowedFast:
		if n != 5 {
			return Message{}, protoErr(id, "length", int64(n), 5, ErrBadLength)
		}
		if p, err = r.need(p, 9); err != nil {
			return Message{}, err
		}
		r.br.Discard(9) // p stays valid: Discard does not refill the buffer
		m := Message{ID: id, Index: binary.BigEndian.Uint32(p[5:])}
		return m, r.checkIndex(m)
	case MsgRequest, MsgCancel, MsgReject:
		if n != 13 {
			return Message{}, protoErr(id, "length", int64(n), 13, ErrBadLength)
		}
		if p, err = r.need(p, 17); err != nil {
			return Message{}, err
		}
		r.br.Discard(17) // p stays valid: Discard does not refill the buffer
		m := Message{ID: id,
			Index:  binary.BigEndian.Uint32(p[5:]),
			Begin:  binary.BigEndian.Uint32(p[9:]),
			Length: binary.BigEndian.Uint32(p[13:]),
		}
		if m.Length == 0 || m.Length > MaxBlockLen {
			return Message{}, protoErr(id, "block length", int64(m.Length), MaxBlockLen, ErrBadBlock)
		}
		if id == MsgRequest && m.Length > r.maxReq {
			return Message{}, protoErr(id, "block length", int64(m.Length), int64(r.maxReq), ErrRequestTooLarge)
		}
		return m, r.checkIndex(m)
	case MsgPiece:
		if n < 10 || n > 9+MaxBlockLen {
			return Message{}, protoErr(id, "length", int64(n), 9+MaxBlockLen, ErrBadBlock)
		}
		if p, err = r.need(p, 13); err != nil {
			return Message{}, err
		}
		r.br.Discard(13) // p stays valid: Discard does not refill the buffer
		m := Message{ID: id,
			Index:  binary.BigEndian.Uint32(p[5:]),
			Begin:  binary.BigEndian.Uint32(p[9:]),
			Length: n - 9,
		}
		if err := r.checkIndex(m); err != nil {
			return Message{}, err
		}
		r.pending = int(m.Length)
		return m, nil
	case MsgPort:
		if n != 3 {
			return Message{}, protoErr(id, "length", int64(n), 3, ErrBadLength)
		}
		if p, err = r.need(p, 7); err != nil {
			return Message{}, err
		}
		r.br.Discard(7) // p stays valid: Discard does not refill the buffer
		return Message{ID: id, Port: binary.BigEndian.Uint16(p[5:])}, nil
	case MsgBitfield:
		size := int(n - 1)
		if r.numPieces > 0 && size != (r.numPieces+7)/8 {
			return Message{}, protoErr(id, "length", int64(size), int64((r.numPieces+7)/8), ErrBadBitfield)
		}
		if r.numPieces == 0 && (size == 0 || size > MaxPieces/8) {
			return Message{}, protoErr(id, "length", int64(size), MaxPieces/8, ErrBadBitfield)
		}
		r.br.Discard(5)
		b := make([]byte, size)
		if _, err := io.ReadFull(r.br, b); err != nil {
			return Message{}, eof(err, true)
		}
		if r.numPieces > 0 {
			if _, err := ParseBitfield(b, r.numPieces); err != nil {
				return Message{}, err
			}
		}
		return Message{ID: id, Bitfield: b}, nil
	case MsgExtended:
		if n < 2 || int(n-2) > r.maxExt {
			return Message{}, protoErr(id, "length", int64(n), int64(2+r.maxExt), ErrBadLength)
		}
		if p, err = r.need(p, 6); err != nil {
			return Message{}, err
		}
		r.br.Discard(6) // p stays valid: Discard does not refill the buffer
		if r.lazyExt {
			r.pending = int(n - 2)
			return Message{ID: id, ExtID: p[5], Length: n - 2}, nil
		}
		m := Message{ID: id, ExtID: p[5], ExtPayload: make([]byte, n-2)}
		if _, err := io.ReadFull(r.br, m.ExtPayload); err != nil {
			return Message{}, eof(err, true)
		}
		return m, nil
	default:
		// Unknown id: skip it (bounded by maxFrame) without allocating.
		if _, err := r.br.Discard(4 + int(n)); err != nil {
			return Message{}, eof(err, true)
		}
		return Message{ID: id, Length: n - 1}, nil
	}
}

// need returns the first size bytes of the current frame, peeking again
// only if p is shorter. It never waits for bytes beyond the frame, since
// callers ask only for sizes the frame length guarantees.
func (r *Reader) need(p []byte, size int) ([]byte, error) {
	if len(p) >= size {
		return p, nil
	}
	p, err := r.br.Peek(size)
	if err != nil {
		return nil, eof(err, true)
	}
	return p, nil
}

func (r *Reader) checkIndex(m Message) error {
	if r.numPieces > 0 && m.Index >= uint32(r.numPieces) {
		return protoErr(m.ID, "index", int64(m.Index), int64(r.numPieces), ErrBadIndex)
	}
	return nil
}

// ReadPayload reads the pending piece block (or extended payload, with
// HeaderOnlyExtended) into dst, whose length must be exactly Pending() (the
// Length of the message just returned); otherwise it returns ErrNoPayload
// and reads nothing. An empty extended payload needs no call. A large dst is
// filled straight from the underlying reader, bypassing the buffer.
func (r *Reader) ReadPayload(dst []byte) error {
	if r.pending == 0 || len(dst) != r.pending {
		return ErrNoPayload
	}
	_, err := io.ReadFull(r.br, dst)
	r.pending = 0
	return eof(err, true)
}

// DiscardPayload skips the pending piece block, if any (for a block nobody
// requested).
func (r *Reader) DiscardPayload() error {
	n := r.pending
	r.pending = 0
	_, err := r.br.Discard(n)
	return eof(err, true)
}

// eof turns io.EOF inside a message into io.ErrUnexpectedEOF.
func eof(err error, inside bool) error {
	if err == io.EOF && inside {
		return io.ErrUnexpectedEOF
	}
	return err
}
