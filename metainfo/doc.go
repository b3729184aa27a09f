// Package metainfo reads and writes .torrent files (BEP 3) and magnet URIs
// (BEP 9), creates v1 torrents from files on disk, and wraps an info
// dictionary fetched from peers into a .torrent.
//
// Parse is strict where the data is concerned and tolerant where it is not.
// It refuses, with a *FieldError naming the field ("info.pieces: length 39
// is not a multiple of 20"):
//   - malformed or non-canonical bencode (unsorted or duplicate keys, bad
//     integers, trailing bytes), nesting deeper than 64, more than 3,000,000
//     values, files over 64 MiB;
//   - a missing or non-positive "piece length", or one over 512 MiB;
//   - "pieces" whose length is not a multiple of 20, more than 2^21 pieces,
//     or a count other than ceil(total length / piece length);
//   - negative file lengths, lengths over 2^50, more than 2^20 files, an
//     empty torrent, both or neither of "length" and "files";
//   - a ".." path component anywhere (name, path, symlink path), a path
//     deeper than 100 components, a file that is also a directory, more
//     than 500 files with the same name;
//   - pure v2 torrents (ErrV2Only: "v2-only torrents are not yet
//     supported"); hybrid torrents whose v1 and v2 parts disagree.
//
// It repairs, so that a torrent with odd but harmless names still works the
// same on every OS (see SanitizeComponent): "." and empty components are
// dropped; control characters, separators inside a component and invalid
// UTF-8 become '_'; bidi and zero-width characters are removed; drive letters
// and Windows reserved names are defused; trailing dots and spaces are
// trimmed; over-long names are shortened; exact duplicate paths get ".1",
// ".2"... before the extension. "name.utf-8" and "path.utf-8" are preferred
// when they are valid UTF-8. Descriptive top-level fields (comment, created
// by, creation date, encoding) are ignored when wrongly typed.
//
// Hybrid v1+v2 torrents (BEP 52) are parsed through their v1 part:
// MetaInfo.Hybrid is set and InfoHashV2 holds the SHA-256 info-hash.
//
// The info-hash is the SHA-1 of the info dictionary's bytes exactly as they
// appear in the file (bencode.RawMessage), never of a re-encoding.
//
// Magnet links: ParseMagnetOrHash takes what a user types to download by
// info-hash (a magnet URI or a bare 40-hex or 32-base32 info-hash) and
// refuses v2-only ones (ErrV2Only); Magnet.PeerAddrs gives the numeric
// x.pe peers as netip.AddrPort. Once the info dictionary has been fetched
// from peers, Magnet.MetaInfo checks it against the info-hash and adds the
// magnet's trackers and web seeds; MetaInfo.Encode (or EncodeTorrent)
// writes a .torrent around the raw info bytes, with the same info-hash.
//
// File paths from a torrent must be turned into disk paths with SafeJoin,
// which also proves, through symlinks, that they stay under the download
// directory.
//
// Nothing in this package starts goroutines except Build's hashing workers,
// which have all exited when Build returns.
package metainfo
