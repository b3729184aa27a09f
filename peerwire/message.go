package peerwire

import "strconv"

// Sizes and limits of the wire protocol. See the package documentation for
// how they are enforced.
const (
	// BlockSize is the block length every current client requests (16 KiB).
	BlockSize = 16 << 10
	// MaxBlockLen is the hard cap on a block: a piece payload, or the length
	// of a request, cancel or reject, above it is a protocol error.
	MaxBlockLen = 128 << 10
	// MaxExtendedLen caps the payload of a BEP 10 extended message.
	MaxExtendedLen = 1 << 20
	// MaxPieces is the largest piece count a torrent may have (2^21), which
	// bounds a bitfield when the piece count is not known yet.
	MaxPieces = 1 << 21
)

// MessageID identifies a peer wire message. Real ids are the single byte
// that follows the length prefix; [MsgKeepAlive] is the pseudo id of a
// zero-length frame.
type MessageID int

// Message ids (BEP 3, BEP 5, BEP 6, BEP 10).
const (
	MsgKeepAlive     MessageID = -1
	MsgChoke         MessageID = 0
	MsgUnchoke       MessageID = 1
	MsgInterested    MessageID = 2
	MsgNotInterested MessageID = 3
	MsgHave          MessageID = 4
	MsgBitfield      MessageID = 5
	MsgRequest       MessageID = 6
	MsgPiece         MessageID = 7
	MsgCancel        MessageID = 8
	MsgPort          MessageID = 9
	MsgSuggest       MessageID = 13
	MsgHaveAll       MessageID = 14
	MsgHaveNone      MessageID = 15
	MsgReject        MessageID = 16
	MsgAllowedFast   MessageID = 17
	MsgExtended      MessageID = 20
)

var msgNames = [...]string{
	MsgChoke: "choke", MsgUnchoke: "unchoke", MsgInterested: "interested",
	MsgNotInterested: "not interested", MsgHave: "have", MsgBitfield: "bitfield",
	MsgRequest: "request", MsgPiece: "piece", MsgCancel: "cancel", MsgPort: "port",
	MsgSuggest: "suggest", MsgHaveAll: "have all", MsgHaveNone: "have none",
	MsgReject: "reject request", MsgAllowedFast: "allowed fast", MsgExtended: "extended",
}

// String returns the message's name as the BEPs spell it, or "unknown(N)".
func (id MessageID) String() string {
	if id == MsgKeepAlive {
		return "keep-alive"
	}
	if id >= 0 && int(id) < len(msgNames) && msgNames[id] != "" {
		return msgNames[id]
	}
	return "unknown(" + strconv.Itoa(int(id)) + ")"
}

// Known reports whether this package can decode and encode the message.
func (id MessageID) Known() bool {
	return id == MsgKeepAlive || (id >= 0 && int(id) < len(msgNames) && msgNames[id] != "")
}

// Message is one decoded (or to be encoded) peer wire message. Which fields
// are meaningful depends on ID:
//
//	have, suggest, allowed fast       Index
//	request, cancel, reject           Index, Begin, Length
//	piece                             Index, Begin, Length (block length); Payload when encoding
//	bitfield                          Bitfield (raw bytes; see ParseBitfield)
//	port                              Port
//	extended                          ExtID, ExtPayload
//
// When decoding a piece, Payload is nil: the block is still in the stream
// and is read with [Reader.ReadPayload]. Bitfield and ExtPayload returned by
// [Reader.ReadMessage] are freshly allocated and belong to the caller.
type Message struct {
	ID         MessageID
	Index      uint32
	Begin      uint32
	Length     uint32
	Bitfield   []byte
	Payload    []byte
	ExtID      uint8
	ExtPayload []byte
	Port       uint16
}
