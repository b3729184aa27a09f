package session

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/effusion-bt/effusion/transport"
)

// Sentinel errors. Callers branch on them with errors.Is.
var (
	// ErrProtocol: a peer broke the peer wire protocol (malformed frame,
	// bad bitfield, out-of-range index, unrequested block, ...). The peer is
	// disconnected; the download goes on with the others.
	ErrProtocol = errors.New("session: peer protocol violation")
	// ErrBanned: a peer sent too much data that failed verification.
	ErrBanned = errors.New("session: peer banned")
	// ErrSelf: we connected to ourselves (the remote peer id is ours).
	ErrSelf = transport.ErrSelf
	// ErrDuplicate: a second connection to a peer id we are already connected to.
	ErrDuplicate = errors.New("session: duplicate connection")
	// ErrTooManyPeers: the session is at its peer limit.
	ErrTooManyPeers = errors.New("session: too many peers")
	// ErrWrongTorrent: the remote handshake names another info-hash.
	ErrWrongTorrent = transport.ErrWrongTorrent
	// ErrSlowPeer: the peer did not read what we sent (our queue for it
	// overflowed).
	ErrSlowPeer = errors.New("session: peer not reading")
	// ErrEvicted: the peer's slot went to a newcomer (it sent nothing, or
	// nothing flowed either way for a long time; see core.Evictable).
	ErrEvicted = errors.New("session: evicted for a more useful peer")
	// ErrNoMetadata: the torrent's info dictionary is not known yet (a
	// magnet's session in its Metadata phase).
	ErrNoMetadata = errors.New("session: metadata not known yet")
	// ErrIdle: the peer sent nothing for too long.
	ErrIdle = errors.New("session: peer idle")
	// ErrStopped: the session was stopped (before completing, for Await).
	ErrStopped = errors.New("session: stopped")
	// errBothSeeds: we and the peer are both seeds.
	errBothSeeds = errors.New("session: both seeds")
	// ErrClosed: the peer connection was closed by us.
	ErrClosed = errors.New("session: connection closed")
)

// ViolationError says which peer broke the protocol and how. It wraps
// ErrProtocol (and, when the codec caught it, the peerwire error).
type ViolationError struct {
	Peer   netip.AddrPort
	Reason string
	Err    error // the underlying codec error, if any
}

func (e *ViolationError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("peer %v: protocol violation: %s: %v", e.Peer, e.Reason, e.Err)
	}
	return fmt.Sprintf("peer %v: protocol violation: %s", e.Peer, e.Reason)
}

// Unwrap returns ErrProtocol and the codec error.
func (e *ViolationError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrProtocol, e.Err}
	}
	return []error{ErrProtocol}
}
