package mse

import (
	"context"
	"io"
	"net"

	"github.com/effusion-bt/effusion/peerwire"
)

// PeekLen is how many bytes Sniff reads to tell a plain BitTorrent
// handshake (byte 19, then "BitTorrent protocol") from MSE (a random
// public key, which starts that way with probability 2^-160).
const PeekLen = 1 + len(peerwire.ProtocolName)

// IsPlainHandshake reports whether prefix is consistent with the start of
// a plain BitTorrent handshake. With PeekLen bytes or more the answer is
// final; with fewer, false is final (MSE) and true means "maybe".
func IsPlainHandshake(prefix []byte) bool {
	if len(prefix) == 0 {
		return true
	}
	if prefix[0] != byte(len(peerwire.ProtocolName)) {
		return false
	}
	rest := prefix[1:min(len(prefix), PeekLen)]
	return string(rest) == peerwire.ProtocolName[:len(rest)]
}

// Sniff reads the first PeekLen bytes of an incoming connection and
// reports whether they begin a plain BitTorrent handshake. The returned
// Conn (Method None) gives them back to its first reads, so the caller
// parses the handshake from it as if nothing had been read; Respond
// accepts it as well, for the MSE case. Both kinds of peer send at least
// PeekLen bytes before waiting for us, so Sniff cannot deadlock with a
// well-behaved peer. ctx bounds the read as in Initiate; on error the
// caller closes conn.
func Sniff(ctx context.Context, conn net.Conn) (c *Conn, plain bool, err error) {
	buf := make([]byte, PeekLen)
	err = bound(ctx, conn, false, func() error {
		if _, err := io.ReadFull(conn, buf); err != nil {
			return &HandshakeError{Step: "peek", Err: err}
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return &Conn{conn: conn, pending: buf}, IsPlainHandshake(buf), nil
}

// Accept is a listener's side of the policy for one incoming connection:
// it sniffs the first bytes and either returns the plain connection
// (Method None, the sniffed bytes still to be read) or answers MSE with
// Respond (lookup as for Respond, the method chosen by p.Select). A plain
// handshake under Require yields ErrPlainRefused, an MSE one under Off
// ErrEncryptionOff (both inside a *HandshakeError).
//
// The caller then reads the BitTorrent handshake from the returned Conn,
// under a deadline of its own (ctx bounds Accept only, as in Initiate, and
// the deadline is cleared on return); after MSE it must check that the
// handshake names Conn.InfoHash. Accept does not close conn.
func Accept(ctx context.Context, conn net.Conn, p Policy, lookup func(skeyHash [20]byte) (infoHash [20]byte, ok bool)) (*Conn, error) {
	c, plain, err := Sniff(ctx, conn)
	if err != nil {
		return nil, err
	}
	switch {
	case plain && !p.AcceptsPlain():
		return nil, &HandshakeError{Step: "peek", Err: ErrPlainRefused}
	case plain:
		return c, nil
	case !p.AcceptsMSE():
		return nil, &HandshakeError{Step: "peek", Err: ErrEncryptionOff}
	}
	return Respond(ctx, c, lookup, p.Select)
}
