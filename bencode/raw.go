package bencode

import "errors"

// RawMessage is the raw encoding of one bencode value, exactly as it appeared
// in the input (decoding copies those bytes; nothing is re-encoded). The info
// dictionary of a torrent is kept this way so that its SHA-1 is computed over
// the original bytes. Encoding writes the bytes verbatim after checking that
// they are one valid value; an empty RawMessage cannot be encoded (a struct
// field holding one is omitted only with omitempty).
type RawMessage []byte

// MarshalBencode returns m after validating it.
func (m RawMessage) MarshalBencode() ([]byte, error) {
	if len(m) == 0 {
		return nil, errors.New("bencode: empty RawMessage")
	}
	if !Valid(m) {
		return nil, errors.New("bencode: RawMessage is not one valid value")
	}
	return m, nil
}

// UnmarshalBencode stores a copy of data.
func (m *RawMessage) UnmarshalBencode(data []byte) error {
	*m = append((*m)[:0], data...)
	return nil
}
