package transport

import "errors"

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrUnknownTorrent: an incoming handshake named an info-hash no
	// handler serves on this listener.
	ErrUnknownTorrent = errors.New("transport: unknown info-hash")
	// ErrWrongTorrent: the remote handshake names another info-hash.
	ErrWrongTorrent = errors.New("transport: handshake for another torrent")
	// ErrSelf: we connected to ourselves (the remote peer id is ours).
	ErrSelf = errors.New("transport: connection to self")
	// ErrHalfOpen: too many connections from one address are still
	// handshaking; the new one was closed.
	ErrHalfOpen = errors.New("transport: too many half-open connections from one address")
	// ErrRegistered: another handler serves the info-hash on this listener.
	ErrRegistered = errors.New("transport: info-hash already served on this listener")
	// ErrNoUTP: in UTP mode, a peer of an address family we have no uTP
	// socket for (an IPv6 peer of a host without IPv6).
	ErrNoUTP = errors.New("transport: no uTP socket for the peer's address family")
	// ErrBadMode: ParseMode was given something other than tcp, utp or
	// both.
	ErrBadMode = errors.New("transport: bad transport")
)
