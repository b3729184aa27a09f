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
// # Who owns what
//
//   - The server goroutine (the machine) owns the core, the piece
//     assembly, the peer table and the address book. Peers talk to it only
//     through its mailbox: HandleMessage, UnregisterConnection and received
//     blocks are casts.
//   - Every peer connection has a reader goroutine (decoding frames with
//     peerwire, validating them, serving requests and cancels itself) and a
//     writer goroutine (sending what the server queued, in coalesced writes,
//     and the blocks the peer asked for, as writev of header and block). It
//     is owned by a connection process (package connection, a statem): for
//     an outgoing peer that process dials, with backoff, and redials peers
//     worth retrying; for an incoming one it watches the connection.
//   - Incoming connections arrive on a Listener: an acceptor pool (package
//     acceptor) that reads the handshake's info-hash and hands the
//     connection to the session serving it. Sessions may share a Listener.
//   - A process-wide hasher pool (one goroutine per core, shared by every
//     session) verifies pieces and writes them.
//
// # The life of a block
//
// The reader reads the piece message's payload into a pooled 16 KiB block
// (waiting briefly for one of 4,096 in-flight slots: the back-pressure
// that bounds received, unverified data to 64 MiB) and casts the block to
// the server. The server asks the core whether it was requested
// (BlockReceived) and files it under its piece. When the core says a piece
// is complete, its blocks go to the hasher, which hashes them in memory
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
// nobody requested, and fast-extension messages without the fast bit all
// disconnect the peer (ViolationError, wrapping ErrProtocol). A peer whose
// data fails verification is charged by the core and banned when it is
// the culprit (with smart-ban digests); banned addresses and peer ids are
// never readmitted. The download goes on with the others.
package session
