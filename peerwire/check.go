package peerwire

// CheckBlock checks that a block (from a request, cancel, reject or piece)
// lies inside its piece of pieceLen bytes and is 1..MaxBlockLen bytes long.
// The error is a [*ProtocolError] wrapping [ErrBadBlock].
func CheckBlock(m Message, pieceLen int64) error {
	if m.Length == 0 || m.Length > MaxBlockLen {
		return protoErr(m.ID, "block length", int64(m.Length), MaxBlockLen, ErrBadBlock)
	}
	if end := int64(m.Begin) + int64(m.Length); end > pieceLen {
		return protoErr(m.ID, "block end", end, pieceLen, ErrBadBlock)
	}
	return nil
}

// CheckIndex checks that index is below numPieces; the error is a
// [*ProtocolError] wrapping [ErrBadIndex].
func CheckIndex(m Message, numPieces int) error {
	if m.Index >= uint32(max(numPieces, 0)) {
		return protoErr(m.ID, "index", int64(m.Index), int64(numPieces), ErrBadIndex)
	}
	return nil
}
