package metadata

import (
	"time"

	"github.com/effusion-bt/effusion/peerwire"
)

// budgetWindow is the window of ServerConfig.PerMinute.
const budgetWindow = time.Minute

// ServerConfig bounds what one peer may take from a Server. The zero
// value selects the defaults.
type ServerConfig struct {
	// PerMinute is how many pieces one peer may be sent per minute; beyond,
	// its requests are rejected until the minute is over. Default: the
	// metadata's piece count, at least 16 (a whole copy per minute).
	PerMinute int
	// Copies is how many times over one peer may be sent the metadata on
	// one connection; beyond, every request is rejected. Default 2 (a
	// second copy covers a peer whose first copy a liar spoiled).
	Copies int
}

// Server answers peers' ut_metadata requests from the raw info
// dictionary (BEP 9): data for a piece in range and within the peer's
// Budget, reject otherwise. It is pure like Fetcher (time is passed in)
// and holds no per-peer state: the shell keeps one Budget per connection.
// A Server is safe for concurrent use (it is immutable); a Budget is not.
type Server struct {
	info     []byte
	n        int
	perMin   int
	maxTotal int
}

// NewServer returns a Server for info, the raw info dictionary exactly as
// its SHA-1 is the info-hash (metainfo.MetaInfo.InfoBytes). info is not
// copied and must not be modified. An empty info, or one above MaxSize,
// gives a Server that rejects every request, which is what a session that
// has no metadata yet must answer.
func NewServer(info []byte, cfg ServerConfig) *Server {
	s := &Server{}
	n := peerwire.MetadataPieces(len(info))
	if n == 0 {
		return s
	}
	s.info, s.n = info, n
	s.perMin = cfg.PerMinute
	if s.perMin <= 0 {
		s.perMin = max(16, n)
	}
	copies := cfg.Copies
	if copies <= 0 {
		copies = 2
	}
	s.maxTotal = copies * n
	return s
}

// Size returns the metadata size served: the metadata_size to announce in
// our extended handshake (0: announce none).
func (s *Server) Size() int { return len(s.info) }

// Budget is what one peer has taken from a Server. The zero value is a
// fresh budget; keep one per connection.
type Budget struct {
	served      int           // pieces sent on this connection
	inWindow    int           // pieces sent in the current window
	windowStart time.Duration // start of the current window
	started     bool
}

// Reply is the answer to one request: the message to send back.
type Reply struct {
	// Type is peerwire.MetadataData or peerwire.MetadataReject.
	Type  peerwire.MetadataMsgType
	Piece int
	// TotalSize is the metadata size (data only).
	TotalSize int
	// Data is the piece's bytes (data only): a sub-slice of the info given
	// to NewServer, not to be modified. Send it with
	// peerwire.AppendMetadataData or, without copying, after
	// peerwire.AppendMetadataDataHeader.
	Data []byte
	// Limited is set on a reject caused by the peer's budget rather than
	// by the request itself (no metadata, piece out of range).
	Limited bool
}

// Answer returns the reply to a peer's request for piece at time now (the
// shell's monotonic clock, as given to Fetcher.Tick), charging b when it
// serves data.
func (s *Server) Answer(b *Budget, piece int, now time.Duration) Reply {
	reject := Reply{Type: peerwire.MetadataReject, Piece: piece}
	if piece < 0 || piece >= s.n {
		return reject
	}
	if !b.started || now-b.windowStart >= budgetWindow {
		b.started, b.windowStart, b.inWindow = true, now, 0
	}
	if b.inWindow >= s.perMin || b.served >= s.maxTotal {
		reject.Limited = true
		return reject
	}
	b.inWindow++
	b.served++
	off := piece * PieceSize
	return Reply{
		Type:      peerwire.MetadataData,
		Piece:     piece,
		TotalSize: len(s.info),
		Data:      s.info[off : off+peerwire.MetadataPieceLen(len(s.info), piece)],
	}
}

// CheckSize reports whether a metadata_size a peer announces is consistent
// with the metadata we have (size bytes): absent (0) or equal. For peers
// that connect after the metadata phase, where no Fetcher judges them; a
// peer failing it should be dropped (ReasonSizeMismatch).
func CheckSize(announced, size int) bool { return announced == 0 || announced == size }
