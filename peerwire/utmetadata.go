package peerwire

import (
	"encoding/binary"
	"strconv"
)

// BEP 9 (ut_metadata) sizes.
const (
	// MetadataPieceSize is the size of every metadata piece but the last,
	// which holds the rest (1..16 KiB).
	MetadataPieceSize = 16 << 10
	// MaxMetadataPieces is the largest piece count of a metadata of at most
	// MaxMetadataSize bytes.
	MaxMetadataPieces = MaxMetadataSize / MetadataPieceSize
	// MaxMetadataMsgLen caps the payload of a ut_metadata message: a full
	// piece plus 1 KiB for the dictionary (libtorrent disconnects above
	// 17 KiB too).
	MaxMetadataMsgLen = MetadataPieceSize + 1<<10
)

// MetadataMsgType is the msg_type of a ut_metadata message.
type MetadataMsgType uint8

// ut_metadata message types (BEP 9).
const (
	MetadataRequest MetadataMsgType = 0 // request {piece}
	MetadataData    MetadataMsgType = 1 // data {piece, total_size} + piece bytes
	MetadataReject  MetadataMsgType = 2 // reject {piece}
)

// String returns "request", "data", "reject" or "msg_type(N)".
func (t MetadataMsgType) String() string {
	switch t {
	case MetadataRequest:
		return "request"
	case MetadataData:
		return "data"
	case MetadataReject:
		return "reject"
	}
	return "msg_type(" + strconv.Itoa(int(t)) + ")"
}

// MetadataMsg is a decoded ut_metadata message.
type MetadataMsg struct {
	Type MetadataMsgType
	// Piece is the metadata piece index, in [0, MaxMetadataPieces); for a
	// data message it is below MetadataPieces(TotalSize).
	Piece int
	// TotalSize is the metadata size a data message announces, in
	// [1, MaxMetadataSize]. Requests and rejects need none; some clients
	// (libtorrent) send one anyway, reported here when it is in range and
	// 0 otherwise.
	TotalSize int
	// Data is the piece's bytes (data messages only): exactly
	// MetadataPieceLen(TotalSize, Piece) bytes. It aliases the payload
	// given to ParseMetadataMsg.
	Data []byte
}

// MetadataPieces returns the number of metadata pieces of a metadata of
// size bytes: ceil(size / 16 KiB), 0 when size is not in
// [1, MaxMetadataSize].
func MetadataPieces(size int) int {
	if size <= 0 || size > MaxMetadataSize {
		return 0
	}
	return (size + MetadataPieceSize - 1) / MetadataPieceSize
}

// MetadataPieceLen returns the length of piece of a metadata of size bytes
// (16 KiB except for the last piece), 0 when piece is out of range.
func MetadataPieceLen(size, piece int) int {
	if piece < 0 || piece >= MetadataPieces(size) {
		return 0
	}
	return min(MetadataPieceSize, size-piece*MetadataPieceSize)
}

// ParseMetadataMsg decodes the payload of a ut_metadata extended message
// (the bytes after the extended message id). The dictionary's keys may
// come in any order; unknown keys are skipped (nesting at most 8 deep);
// a repeated known key is refused. A data message's bytes are the exact
// remainder after the dictionary and must be MetadataPieceLen(total_size,
// piece) long; a request or reject with bytes after its dictionary is
// refused. A payload longer than MaxMetadataMsgLen is refused before it is
// decoded. Errors are [*ProtocolError] values wrapping [ErrBadMetadata],
// naming the field. It does not allocate.
func ParseMetadataMsg(payload []byte) (MetadataMsg, error) {
	var m MetadataMsg
	bad := func(field string, v, limit int64) error {
		return &ProtocolError{Msg: "ut_metadata", Field: field, Value: v, Limit: limit, Err: ErrBadMetadata}
	}
	if len(payload) > MaxMetadataMsgLen {
		return m, bad("length", int64(len(payload)), MaxMetadataMsgLen)
	}
	s := scanner{b: payload}
	if err := s.openDict(); err != nil {
		return m, bad("dictionary", int64(s.pos), 0)
	}
	const (
		seenType = 1 << iota
		seenPiece
		seenTotal
	)
	var seen int
	var typ, total int64 = -1, -1
	var piece int64 = -1
	for {
		key, done, err := s.nextKey()
		if err != nil {
			return m, bad("dictionary", int64(s.pos), 0)
		}
		if done {
			break
		}
		var dst *int64
		var bit int
		switch string(key) {
		case "msg_type":
			dst, bit = &typ, seenType
		case "piece":
			dst, bit = &piece, seenPiece
		case "total_size":
			dst, bit = &total, seenTotal
		default:
			if err := s.skip(0); err != nil {
				return m, bad("dictionary", int64(s.pos), 0)
			}
			continue
		}
		if seen&bit != 0 {
			return m, bad("repeated "+string(key), 0, 0)
		}
		seen |= bit
		v, err := s.int()
		if err != nil {
			return m, bad(string(key), int64(s.pos), 0)
		}
		*dst = v
	}
	if seen&seenType == 0 {
		return m, bad("msg_type missing", 0, 0)
	}
	if typ < 0 || typ > int64(MetadataReject) {
		return m, bad("msg_type", typ, 0)
	}
	m.Type = MetadataMsgType(typ)
	if seen&seenPiece == 0 {
		return m, bad("piece missing", 0, 0)
	}
	if piece < 0 || piece >= MaxMetadataPieces {
		return m, bad("piece", piece, MaxMetadataPieces)
	}
	m.Piece = int(piece)
	rest := payload[s.pos:]
	if m.Type != MetadataData {
		if len(rest) != 0 {
			return m, bad("trailing bytes", int64(len(rest)), 0)
		}
		if total > 0 && total <= MaxMetadataSize {
			m.TotalSize = int(total)
		}
		return m, nil
	}
	if seen&seenTotal == 0 {
		return m, bad("total_size missing", 0, 0)
	}
	if total <= 0 || total > MaxMetadataSize {
		return m, bad("total_size", total, MaxMetadataSize)
	}
	m.TotalSize = int(total)
	if n := MetadataPieces(m.TotalSize); m.Piece >= n {
		return m, bad("piece", piece, int64(n))
	}
	if want := MetadataPieceLen(m.TotalSize, m.Piece); len(rest) != want {
		return m, bad("data length", int64(len(rest)), int64(want))
	}
	m.Data = rest
	return m, nil
}

// appendMetadataFrame appends the frame header, the extended message id and
// the dictionary; dataLen more bytes are to follow.
func appendMetadataFrame(dst []byte, extID uint8, t MetadataMsgType, piece, totalSize, dataLen int) []byte {
	at := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(MsgExtended), extID)
	dst = append(dst, "d8:msg_typei"...)
	dst = strconv.AppendInt(dst, int64(t), 10)
	dst = append(dst, "e5:piecei"...)
	dst = strconv.AppendInt(dst, int64(piece), 10)
	dst = append(dst, 'e')
	if t == MetadataData {
		dst = append(dst, "10:total_sizei"...)
		dst = strconv.AppendInt(dst, int64(totalSize), 10)
		dst = append(dst, 'e')
	}
	dst = append(dst, 'e')
	binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4+dataLen))
	return dst
}

// AppendMetadataRequest appends a whole ut_metadata request frame (length
// prefix, extended id 20, the peer's ut_metadata id extID, the dictionary)
// for piece.
func AppendMetadataRequest(dst []byte, extID uint8, piece int) []byte {
	return appendMetadataFrame(dst, extID, MetadataRequest, piece, 0, 0)
}

// AppendMetadataReject appends a whole ut_metadata reject frame for piece.
func AppendMetadataReject(dst []byte, extID uint8, piece int) []byte {
	return appendMetadataFrame(dst, extID, MetadataReject, piece, 0, 0)
}

// AppendMetadataData appends a whole ut_metadata data frame: the dictionary
// {msg_type 1, piece, total_size} followed by data (copied).
func AppendMetadataData(dst []byte, extID uint8, piece, totalSize int, data []byte) []byte {
	return append(appendMetadataFrame(dst, extID, MetadataData, piece, totalSize, len(data)), data...)
}

// AppendMetadataDataHeader appends a ut_metadata data frame without its
// dataLen bytes of piece data, which the caller sends right after (for
// example with writev, without copying).
func AppendMetadataDataHeader(dst []byte, extID uint8, piece, totalSize, dataLen int) []byte {
	return appendMetadataFrame(dst, extID, MetadataData, piece, totalSize, dataLen)
}
