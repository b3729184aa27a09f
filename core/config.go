package core

import (
	"fmt"
	"time"
)

// Config describes the torrent and tunes the policies. The zero value of
// every tuning field selects the documented default; NumPieces, PieceLength
// and TotalLength are required.
type Config struct {
	// NumPieces is the number of pieces, in [1, MaxPieces].
	NumPieces int
	// PieceLength is the nominal piece length in bytes (at most 64 MiB).
	PieceLength int64
	// TotalLength is the torrent's length in bytes; the last piece holds
	// TotalLength - (NumPieces-1)*PieceLength bytes, which must be in
	// [1, PieceLength].
	TotalLength int64

	// Seed seeds the core's pseudo-random choices (random first pieces,
	// tie-breaking, optimistic unchoke). Equal seeds and equal event
	// sequences give equal decisions.
	Seed uint64

	// RandomFirst: until this many pieces are verified, new pieces are
	// picked at random rather than rarest first. Default 4; negative
	// disables.
	RandomFirst int
	// EndgameDuplicates is how many peers may have the same block requested
	// at once in end game, in [1, 4]. Default 2.
	EndgameDuplicates int
	// RequestQueueTime sizes each peer's pipeline: it is kept at about the
	// peer's download rate times this duration, in blocks. Default 3 s.
	RequestQueueTime time.Duration
	// StreamQueueTime replaces RequestQueueTime while a reader is
	// registered (SetReader), when it is shorter: peers serve requests in
	// order, so a shorter queue lets an urgent request through sooner.
	// Default 500 ms: in the streaming simulation 1 s doubles the seek
	// latency and 250 ms shaves a third off it, but a queue shorter than
	// the round trip starves the peer.
	StreamQueueTime time.Duration
	// MinRequests and MaxRequests bound a peer's pipeline (MaxRequests is
	// further capped by the peer's reqq). Defaults 4 and 500.
	MinRequests, MaxRequests int
	// SnubTimeout: a peer that has requests outstanding and sends no block
	// for this long is snubbed: its requests are cancelled and handed to
	// other peers, its pipeline shrinks to one request, and it loses its
	// regular unchoke slot until it sends a block. A single request left
	// unanswered this long by a peer that answers others is cancelled and
	// its block returns to the pool. Default 20 s.
	SnubTimeout time.Duration
	// UnchokeSlots is the number of regular unchoke slots. Default 4.
	UnchokeSlots int
	// RechokeInterval is how often the choker re-ranks peers. Default 10 s.
	RechokeInterval time.Duration
	// OptimisticInterval is how often the optimistic unchoke moves to
	// another peer. Default 30 s.
	OptimisticInterval time.Duration
	// SeedTurn: while seeding, a peer unchoked for longer than this yields
	// its slot to peers that have waited. Default 30 s.
	SeedTurn time.Duration
	// BanStrikes: a peer that contributed to this many pieces that failed
	// verification is banned (a sole contributor is banned at once).
	// Default 3.
	BanStrikes int
	// RateWindow is the time constant of the rate estimators. Default 5 s.
	RateWindow time.Duration
	// SilentGrace and IdleGrace rule Evictable: a peer that sent nothing
	// for SilentGrace after connecting (default 5 s), or that has been
	// connected IdleGrace (default 60 s) without interest either way, may
	// give its slot to a new peer.
	SilentGrace, IdleGrace time.Duration
	// MaxChatter caps the messages a peer may send in a second (from a
	// Tick to the first Tick a second or more later) that move nothing
	// forward: choke, unchoke, interested, not interested,
	// suggest, allowed fast and repeated HAVEs and bitfields. An honest
	// peer sends a few a second; beyond the cap it is dropped
	// (ReasonFlood). Default 500.
	MaxChatter int
}

const maxDupLimit = 4

func (c *Config) fill() error {
	if c.NumPieces < 1 || c.NumPieces > MaxPieces {
		return fmt.Errorf("%w: NumPieces %d not in [1, %d]", ErrConfig, c.NumPieces, MaxPieces)
	}
	if c.PieceLength < 1 || c.PieceLength > 64<<20 {
		return fmt.Errorf("%w: PieceLength %d not in [1, 64 MiB]", ErrConfig, c.PieceLength)
	}
	last := c.TotalLength - int64(c.NumPieces-1)*c.PieceLength
	if last < 1 || last > c.PieceLength {
		return fmt.Errorf("%w: TotalLength %d inconsistent with %d pieces of %d bytes",
			ErrConfig, c.TotalLength, c.NumPieces, c.PieceLength)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.RandomFirst, 4)
	def(&c.EndgameDuplicates, 2)
	c.EndgameDuplicates = min(max(c.EndgameDuplicates, 1), maxDupLimit)
	defd(&c.RequestQueueTime, 3*time.Second)
	defd(&c.StreamQueueTime, 500*time.Millisecond)
	def(&c.MinRequests, 4)
	def(&c.MaxRequests, 500)
	c.MinRequests = max(c.MinRequests, 1)
	c.MaxRequests = max(c.MaxRequests, c.MinRequests)
	defd(&c.SnubTimeout, 20*time.Second)
	def(&c.UnchokeSlots, 4)
	c.UnchokeSlots = max(c.UnchokeSlots, 1)
	defd(&c.RechokeInterval, 10*time.Second)
	defd(&c.OptimisticInterval, 30*time.Second)
	defd(&c.SeedTurn, 30*time.Second)
	def(&c.BanStrikes, 3)
	c.BanStrikes = max(c.BanStrikes, 1)
	defd(&c.RateWindow, 5*time.Second)
	defd(&c.SilentGrace, 5*time.Second)
	def(&c.MaxChatter, 500)
	defd(&c.IdleGrace, time.Minute)
	return nil
}
