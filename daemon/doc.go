// Package daemon is effusion's long-running front end: over one
// client.Client it serves Transmission's RPC (so that transmission-remote,
// Transmission's Python and JavaScript clients and the media managers that
// use them work unchanged), a web UI, a live view of every state machine
// in the process, and Prometheus metrics. It holds no protocol logic: what
// it shows and changes, it asks of the client.
//
// # Using it
//
//	c, err := client.New(ctx, client.Config{DataDir: dataDir})
//	if err != nil { ... }
//	d, err := daemon.New(daemon.Config{Client: c, DataDir: dataDir, DownloadDir: "downloads"})
//	if err != nil { ... }                  // errors.Is(err, daemon.ErrNeedAuth): see below
//	go d.ListenAndServe()                  // 127.0.0.1:9091 by default
//	...
//	d.Shutdown(ctx)                        // stop serving, write the settings
//	c.Shutdown(ctx)                        // then the torrents: trackers told, files synced
//
// Handler serves the same routes for a server of your own:
//
//	/transmission/rpc    Transmission's RPC (also with a trailing slash)
//	/                    the web UI (files embedded in the binary)
//	/debug/processes     every state machine, as JSON; /debug/processes/N/events watches one live (SSE)
//	/metrics             Prometheus metrics
//	/stream/IH/N/NAME    file N of torrent IH (hex), while it downloads, for a player or a <video> (package streamhttp)
//
// # The RPC
//
// Transmission's protocol as its 3.00 release speaks it (RPC version 16):
// JSON requests with "method", "arguments" and "tag", answered with
// "result" ("success" or what went wrong; never an HTTP error for a bad
// method or argument), behind the X-Transmission-Session-Id handshake (a
// request without the daemon's id gets 409 and the id). Names are taken in
// every spelling clients use (kebab-case, camelCase, and the snake_case of
// Transmission 4.1), and torrent-get answers with the names asked. One
// field is effusion's own: "streams", for each of "files", the file's
// /stream/ path and media type ({"path": ..., "type": ...}).
// Torrents are numbered in the order they were added, the numbers stable
// for the daemon's run; hash strings work everywhere numbers do.
//
// What the engine cannot do yet is refused with a clear "result" (moving
// data, editing trackers, reannounce), or accepted and recorded where
// refusing would break a
// remote that saves all its preferences (queue, DHT, blocklist settings).
// The daemon's own settings (speed limits, the download directory,
// per-torrent limits and labels, statistics) live in settings.json in the
// data directory, written atomically after each change.
//
// # Security
//
// The daemon listens on 127.0.0.1 unless told otherwise, and New refuses
// an address other machines can reach without Config.User (HTTP Basic,
// compared in constant time; an address that fails must wait before its
// next attempt is even checked, the wait doubling up to 30 s). Every
// request's Host header must be an IP address, localhost or a configured
// name (the DNS rebinding defence), and the session-id handshake keeps
// other sites' pages from posting to the RPC. The files at /stream/ need
// no session id (a <video> element sends none; reading a file changes
// nothing but which pieces come first) but are refused to other sites'
// pages by their Fetch Metadata (Sec-Fetch-Site, Origin), and served
// sandboxed (Content-Security-Policy: sandbox), so that an HTML file in a
// torrent cannot script the web UI. Request bodies are capped (a
// 16 MiB torrent at most); a "filename" is read only as a torrent file,
// never echoed; URLs are fetched only from hosts in Config.FetchAllow.
//
// # The processes view
//
// Every statem machine of the client (the acceptor pool, each session,
// each peer's connection process, each announcer) is listed with its
// state, mailbox length, pending time-outs and last events, taken on the
// machine's own goroutine (statem.Machine.Inspect). Watching one installs
// a tracer (statem.Machine.Watch) for as long as the stream is open: a
// machine nobody watches pays nothing. A slow watcher loses lines (and is
// told how many), it never slows the machine.
package daemon
