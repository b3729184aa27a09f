// Package webseed fetches a torrent's data from HTTP servers: web seeds,
// BEP 19 (GetRight style), the "url-list" of a .torrent.
//
// A Seed is one URL of one torrent. Fetch fills caller-provided buffers
// with any byte range of the torrent, with HTTP range requests ("Range:
// bytes=a-b"), one per file the range touches, over a bounded pool of
// keep-alive connections (Config.MaxConns, default 4). It does no hashing
// and no picking: the session treats a seed as a peer that has everything,
// never chokes and takes a large pipeline, lets the core's picker choose
// what to ask it for, and verifies its data like any peer's.
//
// # Layout
//
// A single-file torrent's URL is the file (when it ends in '/', the
// torrent's name is appended). A multi-file torrent's URL is a directory
// (a '/' is added when missing) under which each file is
// <name>/<path...>, each component percent-escaped on its own, so spaces,
// '?', '#' and non-ASCII names reach the server intact. Padding files
// (BEP 47) are zeros and never requested; empty files are skipped. The
// paths are Info.Files[i].Path, the names as metainfo sanitised them.
//
// # Faults
//
//   - 404, 410 or 416 for a file, or a file of another size: that file is
//     not asked for again from this seed; the pieces it overlaps stop being
//     Servable and Fetch returns an *UnavailableError (ErrUnavailable).
//   - 5xx, any other unusable status, a timeout (no headers, or no next
//     buffer of the body, within Config.Timeout), a connection error, a body
//     shorter or longer than asked, a Content-Range other than the range
//     asked: the seed backs off, BackoffMin·2^(n-1) after the n-th failure in
//     a row, capped at BackoffMax, at least the server's Retry-After within
//     the cap. Requests that fail together count once. Meanwhile Fetch
//     returns a *BackoffError (ErrBackingOff) without sending anything.
//   - A 200 with the whole file where a range was asked: the bytes before
//     the range are read into the caller's own buffers and dropped (up to
//     Config.MaxSkip), the range is read, and the connection is closed.
//     Further in, the file becomes unavailable (ErrRangeIgnored).
//   - Redirects: at most Config.MaxRedirects (5), http and https only, and a
//     seed that started at a public address never reaches a private or
//     loopback one, by redirect or by DNS (tracker.IsPrivateAddr, the
//     tracker client's rule; the seed's dialer checks every address).
//   - Wrong data: undetectable here. The caller hashes the piece; Strike
//     charges the seed and drops it at Config.MaxStrikes.
//
// No body is read beyond the bytes asked for (plus, for a body of unknown
// length, one byte to prove it ends there), and error bodies are drained
// at most 4 KiB.
//
// # How the session drives a seed
//
// One Seed per URL of MetaInfo.URLList (and per --web-seed), made when
// the download starts and only while pieces are missing:
//
//	ws, err := webseed.New(&mi.Info, url, webseed.Config{})
//	id := t.PeerConnected(core.Caps{Fast: true, ReqQ: 1024}) // the core caps it at MaxRequests
//	t.PeerHaveAll(id)                                        // or PeerBitfield(id, ws.AppendBitfield(nil))
//	t.PeerUnchoke(id)                                        // it never chokes
//
// The seed is never interested, so the choker leaves it alone; MsgChoke,
// MsgUnchoke, MsgInterested and MsgNotInterested for its PeerID are
// ignored. Which pieces: whatever the core's Ready.Messages request from
// its PeerID (MsgRequest, 16 KiB blocks of pieces it picked). How many in
// flight: the core sizes the pipeline from the measured rate as for any
// peer; the session queues the requested blocks, coalesces consecutive
// ones (offset piece·PieceLength+begin, each starting where the previous
// ends) into runs of up to 4 MiB, and keeps at most Config.MaxConns runs in
// flight, each in its own goroutine:
//
//	bufs := pooled 16 KiB blocks, one per request of the run
//	n, err := ws.Fetch(ctx, run.off, bufs, func(i int) {
//		post(blockArrived{id, run.req[i], bufs[i]}) // as the bytes arrive
//	})
//	post(runDone{id, run, n, err})
//
// The body is read straight into the blocks, which the session stores and
// hashes as it does a peer's (no copy). Events map to the core as follows:
//
//   - blockArrived: t.BlockReceived(id, piece, begin, length), exactly as for
//     a PIECE message; BlockAccepted stores the block, anything else
//     recycles it. Reporting each block as it comes (rather than the run at
//     its end) keeps a slow seed from looking snubbed.
//   - MsgCancel for the seed: drop the block from the queue if its run has
//     not started; otherwise let it arrive (the core discards it).
//   - runDone without error: nothing more (every block was posted).
//   - runDone with an error: t.PeerReject(id, ...) for each block of the run
//     not delivered (legal because the caps say Fast), which returns it to
//     the pool for other sources. Then, by cause:
//     ErrBackingOff, or ws.Stats().State == BackingOff after a failure:
//     t.PeerChoke(id), reject the queued blocks too, and at
//     ws.Stats().RetryAt (a statem generic timeout) t.PeerUnchoke(id).
//     ErrUnavailable: the seed now lacks some pieces, and the core has no
//     "lost a piece" event: t.PeerGone(id), then register it again with
//     PeerConnected, PeerBitfield(ws.AppendBitfield(nil)) and PeerUnchoke
//     (late blocks of the old PeerID are ignored by the core).
//     ErrDropped: t.PeerGone(id); forget the seed.
//     The session's own cancellation (ctx.Err()): nothing.
//   - PieceHashed(false) for a piece the seed contributed to: the core
//     strikes it like a peer; when Ready.Drops names its PeerID, call
//     t.PeerGone(id) and either ws.Drop(webseed.ErrBadData) (the peer's
//     rule: banned at once) or, as package session does, ws.Strike(),
//     dropping the seed when it returns true and registering it afresh
//     otherwise (a mirror with one stale file gets MaxStrikes chances).
//   - Stopping: cancel the fetches' context, then ws.Close().
//
// The package's shell_test.go is such a shell, driving the real core to a
// verified download; package session is the real one (session/webseed.go).
//
// Stats gives what the progress line shows apart from peer bytes: Bytes
// fetched, Errors, State (active, backing off, dropped) and RetryAt.
//
// # Concurrency and resources
//
// Every method is safe for concurrent use. A Seed starts no goroutine;
// its net/http transport keeps one or two per open connection, at most
// MaxConns per host, all closed by Close. Fetch allocates nothing per
// block; per request, only what net/http allocates plus the URL, the Range
// header and one timer and cancellable context per Fetch.
package webseed
