// Package metadata fetches a torrent's info dictionary from peers and
// serves it to them (BEP 9, ut_metadata), as pure logic in the manner of
// package core: no I/O, no goroutines, no clock. The session (the shell)
// decodes messages with peerwire, reports events to a Fetcher, drains its
// Ready batch and performs the decisions; a Server answers requests from
// the raw info bytes.
//
// # Time
//
// Time is a value the shell passes in, as for core.Torrent: Tick(now) and
// Server.Answer(..., now) take a time.Duration on the shell's monotonic
// clock since any fixed origin (time.Since(start)). Tests drive everything
// through virtual time.
//
// # Fetching
//
// A session started from a magnet link or a bare info-hash creates a
// Fetcher with the info-hash and, for each peer whose extended handshake
// announces ut_metadata, calls AddPeer with the handshake's metadata_size.
// The Fetcher asks several peers in parallel for the 16 KiB pieces (at
// most MaxInFlight requests per peer), times requests out and asks
// another peer, backs off from peers that reject, and checks the SHA-1 of
// the assembled whole against the info-hash. Its loop, in outline:
//
//	f, err := metadata.NewFetcher(metadata.Config{InfoHash: ih, Seed: seed})
//	for {
//		select {
//		case <-ticker.C:
//			f.Tick(time.Since(start))
//		case c := <-extHandshakes: // the peer's BEP 10 handshake
//			if id := c.hs.M["ut_metadata"]; id != 0 {
//				c.utMetadata = uint8(id)
//				c.mid = f.AddPeer(c.hs.MetadataSize)
//			}
//		case ev := <-utMetadata: // payload of an extended message with our ut_metadata id
//			m, err := peerwire.ParseMetadataMsg(ev.payload)
//			if err != nil { close ev.conn (protocol violation); break }
//			switch m.Type {
//			case peerwire.MetadataData:    f.Data(ev.mid, m.Piece, m.TotalSize, m.Data)
//			case peerwire.MetadataReject:  f.Reject(ev.mid, m.Piece)
//			case peerwire.MetadataRequest: send reject (we have no metadata yet)
//			}
//		case c := <-closed:
//			f.PeerGone(c.mid)
//		}
//		rd := f.Ready()
//		for _, r := range rd.Requests { send peerwire.AppendMetadataRequest(b, peer.utMetadata, r.Piece) to r.Peer }
//		for _, d := range rd.Drops    { log d.Reason; close d.Peer; if d.Ban, ban its address }
//		if rd.Info != nil             { metainfo.ParseInfo(rd.Info), leave the metadata phase }
//	}
//
// # Liars
//
// The info-hash is the only ground truth: metadata has no per-piece hashes.
// When a copy assembled from one peer fails, that peer is dropped and
// banned. When a copy assembled from several peers fails, the Fetcher
// records each piece's digest and supplier, and from then on takes a copy
// from one peer at a time (the soloist, the least-tried eligible peer): a
// failed solo copy convicts its soloist, and the copy that finally verifies
// convicts every earlier supplier whose piece differs from it. A soloist
// that rejects, times out or leaves is replaced, and the next soloist's
// copy starts afresh, so a failed copy always has a single source. With at
// least one honest, responsive peer the Fetcher ends with the right bytes.
//
// Peers disagree on metadata_size only if one lies. The first announced
// size is fetched; peers announcing another size wait, never asked, and
// are dropped (ReasonSizeMismatch) once the metadata verifies. When no
// peer with the size being fetched is of use any more (all gone, or all
// timed out or backing off while a peer of another size is fresh: a liar
// announced the size first), the Fetcher switches to the size most fresh
// peers announce, discarding its partial copy. A data
// message whose total_size differs from its sender's announcement, for a
// piece never asked of the sender, or of the wrong length, drops the
// sender; a handshake announcing more than MaxSize (16 MiB) too.
//
// # Serving
//
// A session that has the metadata (from a .torrent or fetched) answers
// requests with a Server built on the raw info bytes and one Budget per
// connection: data for a piece in range and within the peer's budget
// (ServerConfig.PerMinute pieces a minute, ServerConfig.Copies copies in
// all), reject otherwise. It announces Server.Size as metadata_size in its
// extended handshake, and drops later peers that announce another size
// (CheckSize). Private torrents (BEP 27) announce no ut_metadata at all, as
// libtorrent does.
package metadata
