// Package pex keeps the state of peer exchange (BEP 11, ut_pex) for a
// torrent and its connections, as pure logic: no I/O, no goroutines, no
// clock (times are the shell's monotonic durations, as for core.Torrent).
// Messages are encoded and decoded by peerwire (AppendPex, ParsePex).
//
// # Private torrents
//
// A private torrent (BEP 27, metainfo.Info.Private) never exchanges peers:
// the caller must not create a Swarm for it, must not announce ut_pex in
// its extended handshakes, and must ignore ut_pex messages on its
// connections. Nothing in this package can tell a private torrent; the
// rule is the caller's. (Private torrents use no DHT either.)
//
// # Use
//
// One Swarm per public torrent records the peers we are connected to
// (Connected, Disconnected), with the address other peers can reach them
// at. One Conn per connection whose extended handshake announced ut_pex
// tracks what that peer has been told and rate-limits what it sends:
//
//	swarm := pex.NewSwarm(pex.Config{IsSelf: isOurAddress, Banned: isBanned})
//	// connection established (handshakes done), reachable address known:
//	swarm.Connected(addr, flags)
//	if id := hs.M["ut_pex"]; id != 0 {
//		c.pex, c.pexID = swarm.NewConn(addr), uint8(id)
//	}
//	// every second, for each connection with a Conn:
//	if c.pex.Outgoing(now, &msg) {
//		send peerwire.AppendPex(buf, c.pexID, &msg)
//	}
//	// a ut_pex message arrives (our ut_pex id):
//	if err := peerwire.ParsePex(payload, &in); err != nil { protocol violation }
//	learned, err := c.pex.Incoming(now, &in, learned[:0])
//	// err == pex.ErrTooFrequent: the message was ignored (log it)
//	for _, p := range learned { address book add p.Addr (source PEX, p.Flags) }
//	// connection closed:
//	swarm.Disconnected(addr)
//
// # Limits
//
// Outgoing: at most one message a minute per peer (Config.Interval), only
// when something changed, at most 50 added and 50 dropped (the rest wait
// for the next message); a peer is never told about itself. Incoming: at
// most Config.MaxTake peers taken per message and MaxTakePerWindow per
// Window per peer; a peer sending more than FloodMessages messages in
// FloodWindow has the extra messages ignored; addresses that cannot be
// dialled, ours and banned ones are never taken. peerwire.ParsePex itself
// decodes at most 200 added and 200 dropped peers from a message of at
// most 64 KiB.
package pex
