// Package session downloads and seeds one torrent: the session server.
//
// A Session is a statem machine (the server) whose states are the
// torrent's phases: Checking (hashing the data already on disk),
// Downloading, Seeding, and, at the end, Stopped or Failed. The picking,
// choking and bookkeeping decisions are not made here: the server steps the
// pure core (package core) with one call per event and performs the batch
// of decisions it drains from core.Torrent.Ready, in the way etcd's raft
// Node serves its state machine.
//
// # Using it
//
//	s, err := session.Start(ctx, session.Config{Torrent: mi, Dir: "downloads"})
//	if err != nil { ... }
//	defer s.Stop(context.Background())   // tracker told "stopped", storage synced
//	if err := s.Await(ctx); err != nil { ... }  // every piece verified and written
//
// With Config.Peers (or AddPeers) the session needs no tracker. Stats is a
// snapshot, refreshed once a second and live for byte counts and progress.
//
// Sessions of one process share an Env (NewEnv; Config.Env): the hashing
// workers, the budget of received blocks, the dialer with its cap on dials
// in progress, process-wide rate limits and one listening port. A session
// started without one makes its own and closes it when it ends; a program
// running many torrents (package client does) makes one and closes it
// after the last session has stopped.
//
// # Who owns what
//
//   - The server goroutine (the machine) owns the core (which holds the
//     pieces being assembled), the peer table and the address book. Peers
//     talk to it only through its mailbox, with typed events; a peer has at
//     most 256 of them queued, its reader waiting beyond that.
//   - Every peer connection has a reader goroutine (decoding frames with
//     peerwire, validating them, serving requests and cancels itself) and a
//     writer goroutine (sending what the server queued, in coalesced writes,
//     and the blocks the peer asked for, as writev of header and block). It
//     is owned by a connection process (package connection, a statem): for
//     an outgoing peer that process dials, with backoff, and redials peers
//     worth retrying; for an incoming one it watches the connection.
//   - Incoming connections arrive on a transport.Listener: an acceptor pool
//     that reads the handshake's info-hash and hands the connection to the
//     session serving it. The sessions of an Env share one.
//   - The Env's hasher pool (one goroutine per core, shared by its
//     sessions) verifies pieces and writes them.
//   - Web seeds (BEP 19: the torrent's url-list, Config.WebSeeds,
//     AddWebSeeds) are virtual peers of the core, owned by the server:
//     while wanted pieces are missing, the core's requests to a seed are
//     fetched in runs of consecutive blocks, a goroutine per run (at most
//     MaxConns per seed), read straight into pooled blocks that join the
//     life of a block below (see webseed.go).
//
// # The life of a block
//
// The reader reads the piece message's payload into a pooled 16 KiB block
// (waiting briefly for one of the Env's 4,096: the back-pressure that
// bounds received, unverified data to 64 MiB) and casts the block to the
// server. The server gives it to the core (BlockReceived), which keeps it
// in its piece's record if it was requested. When the core says a piece is
// complete, TakePiece hands its blocks back in order and they go to the
// hasher, which hashes them in memory
// (eight pieces at once when it can), compares the digest, and writes the
// piece straight from its blocks with one vectored write (pwritev); it is
// never read back. The result returns to the
// server, the core records it, and the server sends HAVE to every peer.
// Nothing is allocated per block in steady state.
//
// # Peers that misbehave
//
// A malformed frame, an oversized length, a bitfield of the wrong length,
// with spare bits set, after a have or a block, or taking pieces back, an
// index out of range, a request beyond its piece or above 16 KiB, a block
// nobody requested, fast-extension messages without the fast bit, an
// extension handshake that is malformed, repeated or above 8 KiB, dozens of
// messages for extensions we never advertised, and floods of messages that
// change nothing all disconnect the peer (ViolationError, wrapping
// ErrProtocol). At the peer limit, a newcomer takes the slot of a peer that
// has said nothing since it connected, or of one long idle (ErrEvicted). A peer whose
// data fails verification is charged by the core and banned when it is
// the culprit (with smart-ban digests); banned addresses and peer ids are
// never readmitted. The download goes on with the others.
package session
