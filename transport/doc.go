// Package transport is how peers reach us and we reach them: the shared
// listening port that routes incoming connections to their torrent by the
// info-hash of the BitTorrent handshake, and the dialer that connects to a
// peer and exchanges handshakes under a process-wide cap on dials in
// progress. It knows the handshake and nothing of what follows it; message
// stream encryption and uTP join it here.
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
package transport
