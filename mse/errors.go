package mse

import (
	"errors"
	"fmt"
)

// Conditions a handshake fails on. They reach the caller inside a
// *HandshakeError; test for them with errors.Is.
var (
	// ErrShortKey: the connection ended before the peer's 96-byte public
	// key arrived. From a peer we dialled this usually means it does not
	// speak MSE (it read our key as a malformed BitTorrent handshake and
	// closed).
	ErrShortKey = errors.New("mse: connection ended before the public key")
	// ErrBadPublicKey: the peer's public key is outside 2..P-2.
	ErrBadPublicKey = errors.New("mse: public key out of range")
	// ErrSyncNotFound: the synchronisation marker (the initiator's
	// HASH('req1', S), or the responder's encrypted verification constant)
	// did not appear within the 512 bytes of padding the spec allows.
	ErrSyncNotFound = errors.New("mse: synchronisation marker not found within 512 bytes")
	// ErrUnknownSKey: the initiator asked for a torrent (stream key) the
	// lookup function does not know.
	ErrUnknownSKey = errors.New("mse: unknown stream key")
	// ErrBadVC: the verification constant did not decrypt to zeros (the
	// peer derived other keys).
	ErrBadVC = errors.New("mse: bad verification constant")
	// ErrBadSelect: the responder's crypto_select is not exactly one of the
	// methods we offered.
	ErrBadSelect = errors.New("mse: crypto_select is not one method we offered")
	// ErrNoCommonMethod: the initiator offered no method our policy
	// accepts (for example only plaintext to a Require listener).
	ErrNoCommonMethod = errors.New("mse: no acceptable crypto method offered")
	// ErrPadTooLong: a padding length field (PadC, PadD) exceeds 512.
	ErrPadTooLong = errors.New("mse: padding longer than 512 bytes")
	// ErrPlainRefused: a plain BitTorrent handshake arrived and the policy
	// is Require.
	ErrPlainRefused = errors.New("mse: plaintext handshake refused (encryption required)")
	// ErrEncryptionOff: an MSE handshake arrived and the policy is Off.
	ErrEncryptionOff = errors.New("mse: encrypted handshake refused (encryption off)")
)

// HandshakeError is the error of a failed handshake: the step that failed
// and why (one of the sentinels above, an I/O error, or the context's
// error when the context ended the handshake).
type HandshakeError struct {
	// Initiator is our role: true when we started the handshake.
	Initiator bool
	// Step names where it failed, such as "read public key" or "sync".
	Step string
	// Err is the cause.
	Err error
}

func (e *HandshakeError) Error() string {
	role := "responder"
	if e.Initiator {
		role = "initiator"
	}
	return fmt.Sprintf("mse %s: %s: %v", role, e.Step, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }
