// Package peerwire encodes and decodes the BitTorrent peer wire protocol:
// the handshake (BEP 3), every BEP 3 message, port (BEP 5), the fast
// extension messages (BEP 6) and the extension protocol (BEP 10) with its
// handshake dictionary, and the payloads of two extensions: ut_metadata
// (BEP 9, [ParseMetadataMsg], [AppendMetadataRequest], ...) and ut_pex
// (BEP 11, [ParsePex], [AppendPex]).
//
// The package is pure: it starts no goroutines and holds no global state.
// It is built for the per-peer reader and writer goroutines of a session:
//
//   - [Reader] decodes frames from a buffered stream. Every frame length is
//     checked against the largest legal message of its type before anything
//     is allocated, and request, have, cancel and piece headers decode
//     without allocating. A piece message is returned as a header only; the
//     caller then reads the block straight into its own buffer with
//     [Reader.ReadPayload], so a block is copied once, from the socket into
//     the piece buffer.
//   - The Append functions ([AppendRequest], [AppendHave], ...) encode into
//     a caller's byte slice, and [Writer] batches small messages and sends a
//     piece header and its block in one writev without copying the block.
//
// # Limits
//
// A block (the payload of piece, and the length field of request, cancel and
// reject) is at most [MaxBlockLen] (128 KiB) and at least 1 byte: larger or
// empty blocks are protocol errors. Incoming requests are further limited to
// [ReaderOptions.MaxRequestLen], [BlockSize] (16 KiB) by default, which is
// what every current client asks for. A bitfield is exactly ceil(n/8) bytes
// with its spare bits zero once the piece count n is known. An extended
// message payload is at most [MaxExtendedLen] (1 MiB). Messages with an id
// this package does not know are skipped without allocating and returned
// with their id so the caller can ignore them; this keeps connections to
// peers that speak later extensions (for example BEP 52 hash messages) alive.
//
// Extension payloads have their own, tighter caps, checked before anything
// is decoded: an extended handshake at most [MaxExtendedHandshake] (8 KiB),
// a ut_metadata message at most [MaxMetadataMsgLen] (a 16 KiB piece plus
// 1 KiB), a ut_pex message at most [MaxPexLen] (64 KiB) and at most
// [MaxPexEntries] added and dropped peers decoded from it. Their
// dictionaries are walked in place without allocating; keys may come in any
// order (some clients do not sort them) but never twice. A ut_metadata data
// message must carry exactly the piece its dictionary implies (16 KiB, or
// the rest of total_size for the last piece, total_size at most
// [MaxMetadataSize]).
//
// Errors describing bad input are [*ProtocolError] values wrapping one of
// the sentinel errors (ErrFrameTooLarge, ErrBadLength, ...). After such an
// error the stream position is unspecified: close the connection.
//
// What the codec does not check, because it needs session state: that a
// bitfield is the first message, that fast-extension messages were
// negotiated, that a piece answers an outstanding request, and that a block
// lies inside its piece ([CheckBlock] helps with the last).
package peerwire
