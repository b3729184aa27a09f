package metadata

import (
	"errors"
	"strconv"
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// Sizes of the metadata exchange (BEP 9).
const (
	// PieceSize is the size of every metadata piece but the last.
	PieceSize = peerwire.MetadataPieceSize
	// MaxSize is the largest metadata (info dictionary) fetched or served:
	// 16 MiB. A peer announcing more is dropped.
	MaxSize = peerwire.MaxMetadataSize
)

// ErrConfig is wrapped by the error NewFetcher returns for an invalid
// Config.
var ErrConfig = errors.New("metadata: invalid config")

// Config tunes a Fetcher. InfoHash is required; the zero value of every
// other field selects the documented default.
type Config struct {
	// InfoHash is the v1 info-hash: the SHA-1 the fetched info dictionary
	// must have.
	InfoHash [20]byte
	// Seed seeds the fetcher's pseudo-random choices (which peer proves a
	// suspect copy). Equal seeds and equal event sequences give equal
	// decisions.
	Seed uint64
	// MaxInFlight is how many requests one peer may have outstanding, in
	// [1, 16]. Default 2, as libtorrent asks.
	MaxInFlight int
	// RequestTimeout: a request unanswered this long is given up and its
	// piece asked of another peer; the peer is not asked again for
	// RequestTimeout, doubling with each further time-out up to MaxBackoff
	// (an answer resets it). A late answer is still accepted. Default 15 s.
	RequestTimeout time.Duration
	// RejectBackoff: a peer that rejects a request is not asked again for
	// this long (peers without the metadata reject). Default 60 s.
	RejectBackoff time.Duration
	// MaxBackoff caps the time-out back-off. Default 5 min.
	MaxBackoff time.Duration
}

func (c *Config) fill() error {
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 2
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 16 {
		return errors.Join(ErrConfig, errors.New("MaxInFlight must be in [1, 16]"))
	}
	for _, d := range []*time.Duration{&c.RequestTimeout, &c.RejectBackoff, &c.MaxBackoff} {
		if *d < 0 {
			return errors.Join(ErrConfig, errors.New("negative duration"))
		}
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 15 * time.Second
	}
	if c.RejectBackoff == 0 {
		c.RejectBackoff = 60 * time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	return nil
}

// PeerID is the fetcher's handle for one peer, returned by AddPeer: a slot
// number (PeerID.Slot, in [1, 65535], unique among current peers) tagged
// with a generation, so a handle kept after PeerGone never aliases a later
// peer. Events naming a stale or unknown PeerID are ignored. The zero
// value, NoPeer, is never a valid handle.
type PeerID uint32

// NoPeer is the zero PeerID.
const NoPeer PeerID = 0

// Slot returns the peer's slot number; the shell may index a slice with it.
func (id PeerID) Slot() int { return int(id & 0xffff) }

// String returns "peer<slot>.<generation>".
func (id PeerID) String() string {
	return "peer" + strconv.Itoa(id.Slot()) + "." + strconv.Itoa(int(id>>16))
}

// Reason says why the fetcher wants a peer disconnected.
type Reason uint8

// Reasons for a Drop.
const (
	// ReasonTooLarge: the peer announced a metadata_size above MaxSize.
	ReasonTooLarge Reason = iota + 1
	// ReasonSizeMismatch: the peer's metadata_size (or a data message's
	// total_size) differs from the size of the verified metadata, or from
	// what the peer itself announced.
	ReasonSizeMismatch
	// ReasonUnrequested: a data message for a piece we never asked the peer
	// for (or more answers than requests).
	ReasonUnrequested
	// ReasonBadLength: a data message whose length is not its piece's.
	ReasonBadLength
	// ReasonBadData: the peer supplied pieces that failed the info-hash
	// check. The Drop carries Ban.
	ReasonBadData
)

var reasonNames = [...]string{"", "metadata_size above 16 MiB", "metadata size mismatch",
	"unrequested metadata piece", "metadata piece of the wrong size", "sent corrupt metadata"}

// String returns a short description of the reason.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && r != 0 {
		return reasonNames[r]
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// Drop asks the shell to disconnect Peer (and, when Ban is set, to refuse
// its address from now on). The fetcher has already forgotten the peer's
// requests and ignores its further events; it still expects PeerGone(Peer)
// once the connection is closed.
type Drop struct {
	Peer   PeerID
	Reason Reason
	Ban    bool
}

// Request asks the shell to send a ut_metadata request for Piece to Peer
// (peerwire.AppendMetadataRequest with the peer's ut_metadata id).
type Request struct {
	Peer  PeerID
	Piece int
}

// Ready is a batch of decisions, returned by Fetcher.Ready. Its slices are
// owned by the Fetcher and reused: they stay valid until the next call to
// Ready.
type Ready struct {
	// Requests to send, each to its Peer.
	Requests []Request
	// Drops lists peers to disconnect (and ban when Drop.Ban is set).
	Drops []Drop
	// Info is set in the one batch in which the metadata was assembled and
	// matched the info-hash: the raw info dictionary, owned by the caller
	// from then on. Parse it with metainfo.ParseInfo.
	Info []byte
}

// Empty reports whether the batch holds nothing to do.
func (rd *Ready) Empty() bool {
	return len(rd.Requests) == 0 && len(rd.Drops) == 0 && rd.Info == nil
}

func (rd *Ready) reset() {
	rd.Requests = rd.Requests[:0]
	rd.Drops = rd.Drops[:0]
	rd.Info = nil
}
