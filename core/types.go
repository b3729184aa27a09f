package core

import (
	"errors"
	"strconv"
)

// BlockSize is the length of every block the core requests (16 KiB), except
// the last block of a piece, which may be shorter.
const BlockSize = 16 << 10

// MaxPieces is the largest piece count a Torrent accepts (2^21).
const MaxPieces = 1 << 21

// ErrConfig is wrapped by the error New returns for an inconsistent Config.
var ErrConfig = errors.New("core: invalid config")

// PeerID is the core's handle for one connected peer, returned by
// PeerConnected. It is a small integer (a slot number) tagged with a
// generation, so a handle kept after PeerGone never aliases a later peer:
// events carrying a stale or unknown PeerID are ignored. The zero value,
// NoPeer, is never a valid handle.
type PeerID uint32

// NoPeer is the zero PeerID; PeerConnected returns it when every slot is in
// use.
const NoPeer PeerID = 0

// Slot returns the peer's slot number, a small integer in [1, 65535] that is
// unique among connected peers; the shell may use it to index a slice.
func (id PeerID) Slot() int { return int(id & 0xffff) }

// String returns "peer<slot>.<generation>".
func (id PeerID) String() string {
	return "peer" + strconv.Itoa(id.Slot()) + "." + strconv.Itoa(int(id>>16))
}

// Caps is what the peer's handshake said it supports.
type Caps struct {
	// Fast: both sides set the BEP 6 fast extension bit.
	Fast bool
	// ReqQ is the peer's BEP 10 "reqq" (how many outstanding requests it
	// queues); 0 means unknown, in which case DefaultReqQ is assumed.
	ReqQ int
	// AvailSent: the shell already told the peer our availability (it
	// connected before the metadata was known, and was sent HAVE NONE):
	// the greeting leaves it out, and the shell follows it with a HAVE for
	// each piece we have.
	AvailSent bool
	// AllowedFast is the peer's canonical BEP 6 allowed fast set
	// (peerwire.AllowedFastSet with AllowedFastCount pieces), for a fast
	// peer: the core grants the pieces of it that we have (MsgAllowedFast).
	AllowedFast []uint32
}

// AllowedFastCount is the size of the BEP 6 allowed fast set the core
// grants from: a newcomer may fetch these pieces while we choke it, which
// gets it started.
const AllowedFastCount = 10

// DefaultReqQ is the request queue length assumed for a peer that did not
// announce "reqq" (a common client default).
const DefaultReqQ = 250

// MsgKind is the kind of a message the core asks the shell to send.
type MsgKind uint8

// Kinds of Message. The values are not peer wire ids; map them in the shell.
const (
	MsgRequest       MsgKind = iota + 1 // request Piece/Begin/Length
	MsgCancel                           // cancel Piece/Begin/Length
	MsgChoke                            // we choke the peer
	MsgUnchoke                          // we unchoke the peer
	MsgInterested                       // we are interested in the peer
	MsgNotInterested                    // we are no longer interested
	// The greeting, first to a new peer: our availability as a bitfield
	// (AppendBitfield), HAVE ALL or HAVE NONE (fast peers; no message for a
	// peer without the fast extension when we have nothing), then ALLOWED
	// FAST for each granted Piece.
	MsgBitfield
	MsgHaveAll
	MsgHaveNone
	MsgAllowedFast
)

var msgKindNames = [...]string{"", "request", "cancel", "choke", "unchoke", "interested", "not interested",
	"bitfield", "have all", "have none", "allowed fast"}

// String returns the message kind's name.
func (k MsgKind) String() string {
	if int(k) < len(msgKindNames) && k != 0 {
		return msgKindNames[k]
	}
	return "msgkind(" + strconv.Itoa(int(k)) + ")"
}

// Message is one message for the shell to send to Peer. Piece, Begin and
// Length are meaningful for MsgRequest and MsgCancel; Piece for
// MsgAllowedFast.
type Message struct {
	Peer   PeerID
	Kind   MsgKind
	Piece  uint32
	Begin  uint32
	Length uint32
}

// Reason says why the core wants a peer disconnected.
type Reason uint8

// Reasons for a Drop.
const (
	// ReasonUnrequested: the peer sent a block we never requested from it.
	ReasonUnrequested Reason = iota + 1
	// ReasonBadIndex: a piece index, offset or length out of range.
	ReasonBadIndex
	// ReasonBadBitfield: a bitfield of the wrong length, with spare bits
	// set, or not the first availability message.
	ReasonBadBitfield
	// ReasonProtocol: a message not allowed here (have-all, have-none or
	// reject without the fast extension, a reject for nothing we asked).
	ReasonProtocol
	// ReasonBadData: the peer sent data for pieces that failed
	// verification; the Drop carries Ban.
	ReasonBadData
	// ReasonBothSeeds: we have every piece and so does the peer.
	ReasonBothSeeds
	// ReasonFlood: the peer sent more than Config.MaxChatter messages
	// that change nothing (state toggles, repeated HAVEs, suggests) in a
	// second.
	ReasonFlood
)

var reasonNames = [...]string{"", "unrequested block", "index out of range", "bad bitfield",
	"protocol violation", "sent corrupt data", "both seeds", "message flood"}

// String returns a short description of the reason.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && r != 0 {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Drop asks the shell to disconnect Peer. When Ban is set the shell should
// also refuse new connections from the peer's address. The core has already
// forgotten the peer's requests and availability; it still expects
// PeerGone(Peer) once the connection is closed, and ignores every other
// event for it meanwhile.
type Drop struct {
	Peer   PeerID
	Reason Reason
	Ban    bool
}

// BlockVerdict is BlockReceived's answer: what the shell does with the
// payload.
type BlockVerdict uint8

// Verdicts of BlockReceived.
const (
	// BlockAccepted: store the payload (it is the first copy of a block we
	// requested). When it completes its piece, the piece is in Ready.Hash.
	BlockAccepted BlockVerdict = iota + 1
	// BlockDiscarded: drop the payload without penalty (a duplicate from
	// end game, an answer to a request we cancelled, an unknown peer).
	BlockDiscarded
	// BlockViolation: drop the payload; the peer sent data we never asked
	// for or out of range, and is in Ready.Drops.
	BlockViolation
)

var verdictNames = [...]string{"", "accepted", "discarded", "violation"}

// String returns the verdict's name.
func (v BlockVerdict) String() string {
	if int(v) < len(verdictNames) && v != 0 {
		return verdictNames[v]
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// RequestVerdict is AdmitRequest's answer: what the shell does with a
// request a peer sent us.
type RequestVerdict uint8

// Verdicts of AdmitRequest.
const (
	// RequestServe: queue the block for upload (the shell bounds its queue).
	RequestServe RequestVerdict = iota + 1
	// RequestReject: send a BEP 6 reject (the peer has the fast extension).
	RequestReject
	// RequestIgnore: drop the request silently (no fast extension).
	RequestIgnore
)

var reqVerdictNames = [...]string{"", "serve", "reject", "ignore"}

// String returns the verdict's name.
func (v RequestVerdict) String() string {
	if int(v) < len(reqVerdictNames) && v != 0 {
		return reqVerdictNames[v]
	}
	return "requestverdict(" + strconv.Itoa(int(v)) + ")"
}

// Ready is a batch of decisions for the shell, returned by Torrent.Ready.
// Its slices are owned by the Torrent and reused: they stay valid until the
// next call to Ready, and the shell must not keep them longer.
type Ready struct {
	// Messages to send, in order, each to its Peer. Messages to a peer that
	// has been dropped may appear; skip them.
	Messages []Message
	// Hash lists pieces whose every block has been accepted: take each
	// piece's block data with TakePiece, verify it (without reading back)
	// and report the result with PieceHashed.
	Hash []uint32
	// Discard is block data the core let go of before its piece was
	// complete (the piece was abandoned): the shell recycles it.
	Discard []any
	// Have lists pieces newly verified: send HAVE for each to every peer
	// (peers that already have a piece may be skipped).
	Have []uint32
	// Drops lists peers to disconnect (and ban when Drop.Ban is set).
	Drops []Drop
	// Completed is set in the one batch in which every wanted piece became
	// verified.
	Completed bool
}

// Empty reports whether the batch holds nothing to do.
func (rd *Ready) Empty() bool {
	return len(rd.Messages) == 0 && len(rd.Hash) == 0 && len(rd.Have) == 0 &&
		len(rd.Drops) == 0 && len(rd.Discard) == 0 && !rd.Completed
}

func (rd *Ready) reset() {
	rd.Messages = rd.Messages[:0]
	rd.Hash = rd.Hash[:0]
	rd.Have = rd.Have[:0]
	rd.Drops = rd.Drops[:0]
	clear(rd.Discard)
	rd.Discard = rd.Discard[:0]
	rd.Completed = false
}
