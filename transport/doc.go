// Package transport is how peers reach us and we reach them: the shared
// listening port that routes incoming connections to their torrent by the
// info-hash of the BitTorrent handshake, and the dialer that connects to a
// peer and exchanges handshakes under a process-wide cap on dials in
// progress. It knows the handshake (after message stream encryption, which
// it tells from a plain handshake) and nothing of what follows it.
//
// One Listener and one Dialer serve every torrent of a process (the
// client owns them and hands them to each session). A torrent registers a
// Handler under its info-hash; the listener reads the first 48 bytes of an
// incoming handshake (protocol, reserved bits, info-hash) and passes the
// connection to that handler, which answers with its own handshake and runs
// the peer.
//
// # Limits against floods
//
// A connection that has not completed its handshake is half-open. The
// listener bounds them: at most MaxHalfOpenPerIP from one address (others
// are closed as soon as they are accepted, so a flood from one host never
// queues ahead of an honest peer), a first byte within FirstByteTimeout and
// the whole 48-byte header within HandshakeTimeout. Established and
// half-open connections together are capped at MaxConns.
//
// # uTP beside TCP
//
// With ListenConfig.UTP the listener also opens uTP (package utp) on the
// UDP port of the TCP port's number, and its connections take the same
// path as TCP ones: acceptor pool, limits, MSE sniffing, routing. The
// sockets (UTPSockets) serve outgoing uTP too, through the Dialer
// (SetUTP), and their PacketConn views carry the DHT.
//
//	ln, err := transport.Listen(ctx, transport.ListenConfig{Addr: ":6881", UTP: true})
//	d := transport.NewDialer(0, netip.Addr{})
//	d.SetUTP(ln.UTPSockets()...)
//	d.SetMode(transport.Both) // uTP preferred, TCP after a head start
//	conn, theirs, err := d.DialPeer(ctx, peer, ours)
//	transport.Name(conn) // "utp" or "tcp"
package transport
