// Package client runs many torrents in one process: the engine layer
// between the session servers and the front ends (the effusion command,
// the daemon).
//
// One Client per process owns one listening port for every torrent
// (incoming peers are routed by the handshake's info-hash), the pool of
// hashing goroutines, process-wide limits (peers, dials in progress, rate
// limits) and a resume store in the data directory, so that a restart is
// instant: a torrent's verified pieces are recorded only once their data is
// synced to disk, with each file's size and modification time, and a
// restart takes them back without reading them for every file that has not
// changed since (the others are checked again).
//
// # Using it
//
//	c, err := client.New(ctx, client.Config{DataDir: "~/.local/share/effusion", ListenAddr: ":6881"})
//	if err != nil { ... }
//	defer c.Shutdown(context.Background()) // stop every torrent, sync, record, tell trackers
//	t, err := c.Add(ctx, client.Spec{Torrent: mi, Dir: "downloads"})
//	if err != nil { ... }                  // errors.Is(err, client.ErrExists): t is the one already there
//	err = t.Await(ctx)                     // every wanted piece verified and written
//
// Torrents added once come back by themselves at the next New, with their
// directories, file priorities and paused state; Torrents lists them, Remove
// forgets one (DeleteData deletes its files too). Files and
// SetFilePriority select files (Skip, Normal, High) while a torrent runs;
// Pause and Resume stop and start one. Stats is a snapshot that never
// blocks.
//
// # Streaming
//
// NewReader (one file) and NewTorrentReader (the whole torrent) read while
// the torrent downloads, as a video player does: io.ReadSeekCloser plus
// ReadContext and SetReadahead. A read waits until its bytes are verified
// and never returns a byte of a piece that is not; the pieces from the
// position to the readahead past it get deadlines and are fetched first,
// from the fastest peers, and a seek moves them. Each reader has its own
// window; reading a skipped file fetches what is read of it. Package
// streamhttp serves a file over HTTP with Range requests on top of them.
//
// # Beside anacrolix/torrent
//
// The same program, downloading one torrent into a directory, with each
// library (anacrolix/torrent v1.58):
//
//	// anacrolix/torrent
//	cfg := torrent.NewDefaultClientConfig()
//	cfg.DataDir = "downloads"
//	cl, err := torrent.NewClient(cfg)
//	if err != nil { ... }
//	defer cl.Close()
//	t, err := cl.AddTorrentFromFile("a.torrent")
//	if err != nil { ... }
//	<-t.GotInfo()
//	t.DownloadAll()
//	cl.WaitAll() // no context; returns false if the client closed
//
//	// effusion
//	mi, err := metainfo.Load("a.torrent")
//	if err != nil { ... }
//	c, err := client.New(ctx, client.Config{DataDir: dataDir})
//	if err != nil { ... }
//	defer c.Shutdown(context.Background())
//	t, err := c.Add(ctx, client.Spec{Torrent: mi, Dir: "downloads"})
//	if err != nil { ... }
//	err = t.Await(ctx)
//
// What differs: every blocking call takes a context; errors are values to
// branch on (ErrExists, ErrClosed, *StoreError); configuration is a struct
// whose zero value works; a restart does not rehash (anacrolix keeps piece
// completion in a database too, but trusts it without checking the files
// it describes: a file changed behind its back is served as verified).
//
// # Who owns what
//
// The Client owns the listener, the session.Env (hashers, block budget,
// dialer, rate limits) and the store, and one goroutine: the checkpoint
// loop, which every CheckpointInterval syncs the torrents that verified
// pieces since their last record and writes them in one transaction. Each
// running torrent is a session (package session): one goroutine, plus one
// per peer connection and one for its tracker announcer. An idle torrent
// (no peers) has no timer running.
//
// # Finding peers: the port, the DHT and LSD
//
// The listener accepts TCP and uTP on one port number (ListenAddr's; uTP
// on the UDP port), and peers are dialled by Config.Transport (both: uTP
// preferred, TCP after a short head start). Unless Config.NoDHT, one DHT
// node (package dht) runs on the uTP socket, its routing table saved in
// DataDir; unless Config.NoLSD, one local service discovery service
// (package lsd) announces on the local network. Every running torrent that
// is not private (BEP 27) gets a DHT announcer and an LSD entry with its
// session, and the peers they find go to that session. DHT returns the
// node, Torrent.DHTStatus an announcer's progress, LSDStats LSD's counters.
package client
