package peerwire

import (
	"encoding/binary"
	"io"
	"net"
)

func appendHeader(dst []byte, length uint32, id MessageID) []byte {
	dst = binary.BigEndian.AppendUint32(dst, length)
	return append(dst, byte(id))
}

// AppendKeepAlive appends a keep-alive (a zero-length frame).
func AppendKeepAlive(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }

// AppendSimple appends a message without payload: choke, unchoke,
// interested, not interested, have all or have none. It panics for other ids.
func AppendSimple(dst []byte, id MessageID) []byte {
	switch id {
	case MsgChoke, MsgUnchoke, MsgInterested, MsgNotInterested, MsgHaveAll, MsgHaveNone:
		return appendHeader(dst, 1, id)
	}
	panic("peerwire: AppendSimple with " + id.String())
}

func appendIndex(dst []byte, id MessageID, index uint32) []byte {
	dst = appendHeader(dst, 5, id)
	return binary.BigEndian.AppendUint32(dst, index)
}

// AppendHave appends a have message.
func AppendHave(dst []byte, index uint32) []byte { return appendIndex(dst, MsgHave, index) }

// AppendSuggest appends a suggest piece message (BEP 6).
func AppendSuggest(dst []byte, index uint32) []byte { return appendIndex(dst, MsgSuggest, index) }

// AppendAllowedFast appends an allowed fast message (BEP 6).
func AppendAllowedFast(dst []byte, index uint32) []byte {
	return appendIndex(dst, MsgAllowedFast, index)
}

func appendBlockRef(dst []byte, id MessageID, index, begin, length uint32) []byte {
	dst = appendHeader(dst, 13, id)
	dst = binary.BigEndian.AppendUint32(dst, index)
	dst = binary.BigEndian.AppendUint32(dst, begin)
	return binary.BigEndian.AppendUint32(dst, length)
}

// AppendRequest appends a request message.
func AppendRequest(dst []byte, index, begin, length uint32) []byte {
	return appendBlockRef(dst, MsgRequest, index, begin, length)
}

// AppendCancel appends a cancel message.
func AppendCancel(dst []byte, index, begin, length uint32) []byte {
	return appendBlockRef(dst, MsgCancel, index, begin, length)
}

// AppendReject appends a reject request message (BEP 6).
func AppendReject(dst []byte, index, begin, length uint32) []byte {
	return appendBlockRef(dst, MsgReject, index, begin, length)
}

// AppendPieceHeader appends the 13-byte header of a piece message whose
// block of blockLen bytes the caller sends right after it.
func AppendPieceHeader(dst []byte, index, begin uint32, blockLen int) []byte {
	dst = appendHeader(dst, uint32(9+blockLen), MsgPiece)
	dst = binary.BigEndian.AppendUint32(dst, index)
	return binary.BigEndian.AppendUint32(dst, begin)
}

// AppendPiece appends a whole piece message, copying block. Prefer
// [Writer.WritePiece], which does not copy.
func AppendPiece(dst []byte, index, begin uint32, block []byte) []byte {
	return append(AppendPieceHeader(dst, index, begin, len(block)), block...)
}

// AppendBitfield appends a bitfield message carrying bits (the wire bytes,
// for example Bitfield.Bytes()).
func AppendBitfield(dst []byte, bits []byte) []byte {
	dst = appendHeader(dst, uint32(1+len(bits)), MsgBitfield)
	return append(dst, bits...)
}

// AppendPort appends a port message (BEP 5: the sender's DHT port).
func AppendPort(dst []byte, port uint16) []byte {
	dst = appendHeader(dst, 3, MsgPort)
	return binary.BigEndian.AppendUint16(dst, port)
}

// AppendExtended appends a BEP 10 extended message: extID 0 is the extended
// handshake, other ids are those the receiving peer assigned in its "m"
// dictionary.
func AppendExtended(dst []byte, extID uint8, payload []byte) []byte {
	dst = appendHeader(dst, uint32(2+len(payload)), MsgExtended)
	dst = append(dst, extID)
	return append(dst, payload...)
}

// AppendMessage appends the encoding of m, dispatching on m.ID (a piece
// uses m.Payload as its block). It panics on an id this package does not
// know, which is a programming error.
func AppendMessage(dst []byte, m Message) []byte {
	switch m.ID {
	case MsgKeepAlive:
		return AppendKeepAlive(dst)
	case MsgChoke, MsgUnchoke, MsgInterested, MsgNotInterested, MsgHaveAll, MsgHaveNone:
		return AppendSimple(dst, m.ID)
	case MsgHave, MsgSuggest, MsgAllowedFast:
		return appendIndex(dst, m.ID, m.Index)
	case MsgRequest, MsgCancel, MsgReject:
		return appendBlockRef(dst, m.ID, m.Index, m.Begin, m.Length)
	case MsgPiece:
		return AppendPiece(dst, m.Index, m.Begin, m.Payload)
	case MsgBitfield:
		return AppendBitfield(dst, m.Bitfield)
	case MsgPort:
		return AppendPort(dst, m.Port)
	case MsgExtended:
		return AppendExtended(dst, m.ExtID, m.ExtPayload)
	}
	panic("peerwire: AppendMessage with " + m.ID.String())
}

// Writer batches outgoing messages for one connection. Queue encodes into a
// buffer without I/O; Flush sends the buffer; WritePiece sends the buffer,
// a piece header and the block in one writev (net.Buffers) without copying
// the block. It is not safe for concurrent use: one writer goroutine per
// connection owns it.
type Writer struct {
	w    io.Writer
	buf  []byte
	vec  [2][]byte
	bufs net.Buffers // kept in the struct so WriteTo does not allocate
}

// NewWriter returns a Writer sending to w (typically a *net.TCPConn, for
// which net.Buffers uses writev).
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, buf: make([]byte, 0, 512)}
}

// Queue appends the encoding of m to the pending buffer (see AppendMessage;
// queueing a piece copies its block, use WritePiece instead).
func (w *Writer) Queue(m Message) { w.buf = AppendMessage(w.buf, m) }

// QueueRequest queues a request without building a Message.
func (w *Writer) QueueRequest(index, begin, length uint32) {
	w.buf = AppendRequest(w.buf, index, begin, length)
}

// QueueHave queues a have without building a Message.
func (w *Writer) QueueHave(index uint32) { w.buf = AppendHave(w.buf, index) }

// Buffered returns the number of bytes queued and not yet sent.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush sends the queued bytes. On error the queue is dropped (the
// connection is broken anyway).
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// WritePiece sends the queued messages, then a piece message for block, in
// one vectored write. block is not copied and is not retained after return.
func (w *Writer) WritePiece(index, begin uint32, block []byte) error {
	w.buf = AppendPieceHeader(w.buf, index, begin, len(block))
	w.vec[0], w.vec[1] = w.buf, block
	w.bufs = w.vec[:]
	_, err := w.bufs.WriteTo(w.w)
	w.vec[0], w.vec[1] = nil, nil
	w.bufs = nil
	w.buf = w.buf[:0]
	return err
}
