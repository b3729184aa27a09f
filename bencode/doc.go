// Package bencode encodes and decodes bencode (BEP 3) strictly and within
// bounds, for .torrent files, tracker responses, DHT and extension messages.
//
// Decoding rejects anything that is not canonical bencode: dictionary keys
// must be strings sorted in byte order without duplicates, integers have no
// leading zeros, no "-0" and fit in an int64, and Unmarshal refuses bytes
// after the value. Limits (nesting depth 64, string length, total size) are
// checked before any allocation: a string's claimed length is compared with
// the input that is actually there first, so hostile lengths cost nothing.
// Limits.AllowUnsorted relaxes key order (never uniqueness) for input from
// the network, where some trackers and peers send unsorted dictionaries.
//
// Values map to Go as in encoding/json, with `bencode:"name,omitempty"`
// struct tags ("-" skips a field). The generic form (decoding into an any) is
// int64, string, []any and map[string]any. RawMessage keeps the exact bytes
// of a value, which is how the info dictionary of a torrent is hashed.
//
// Nothing in this package starts goroutines; Marshal and Unmarshal are safe
// for concurrent use, an Encoder or Decoder is not.
package bencode
