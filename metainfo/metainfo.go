package metainfo

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/effusion-bt/effusion/bencode"
)

// Limits on what Parse accepts.
const (
	MaxPieces      = 1 << 21   // pieces in one torrent (libtorrent's limit)
	MaxPieceLength = 512 << 20 // bytes in one piece; larger would make buffers absurd
	MaxFileLength  = 1 << 50   // bytes in one file (1 PiB); keeps sums far from overflow
	MaxFiles       = 1 << 20   // entries in info.files
	MaxTorrentSize = 64 << 20  // bytes in a .torrent file (2^21 pieces need 40 MiB)
)

// MetaInfo is a parsed .torrent file. It is plain data: safe for concurrent
// reads, and nothing in it is shared with the input to Parse.
type MetaInfo struct {
	Announce     string     // "announce", as given
	AnnounceList [][]string // "announce-list" (BEP 12), as given minus empty entries
	Comment      string
	CreatedBy    string
	CreationDate int64    // Unix seconds; 0 when absent
	Encoding     string   // "encoding" (legacy, informational)
	URLList      []string // web seeds (BEP 19), from a string or a list

	Info      Info
	InfoBytes []byte   // the info dictionary exactly as it appeared in the file
	InfoHash  [20]byte // SHA-1 over InfoBytes: the v1 info-hash

	// Hybrid is true for a BEP 52 hybrid torrent (meta version 2 plus a v1
	// part). It is parsed and used through its v1 part; InfoHashV2 is the
	// SHA-256 over InfoBytes, the v2 info-hash, kept for magnets and display.
	Hybrid     bool
	InfoHashV2 [32]byte
}

// Info is the info dictionary: what the torrent's data is.
type Info struct {
	Name        string // sanitised (see SanitizeComponent); the file name or the top directory
	PieceLength int64
	Pieces      [][20]byte // SHA-1 of every piece
	Private     bool       // BEP 27: "private" is a non-zero integer
	Source      string     // "source" (used by private trackers to vary the info-hash)

	// MultiFile is true when the torrent has a "files" list: the data is a
	// directory named Name. Otherwise it is a single file named Name.
	MultiFile bool

	// Files is never empty and lists the files in torrent order, padding
	// files included. Offsets are cumulative.
	Files []File

	// Length is the total of all file lengths, padding included.
	Length int64
}

// File is one file of a torrent.
type File struct {
	// Path is where the file goes, relative to the download directory, as
	// sanitised components: [Name] for a single-file torrent, [Name, dir...,
	// file] for a multi-file torrent. Give it to SafeJoin.
	Path    []string
	Length  int64
	Offset  int64 // offset of the file's first byte in the torrent's data
	Padding bool  // BEP 47 padding file ("attr" contains 'p'): zeros, never written
	Attr    string
	// SymlinkPath is the BEP 47 link target ("attr" contains 'l'), as
	// sanitised components relative to the torrent's top directory.
	SymlinkPath []string
}

// TotalLength is the size of the torrent's data in bytes, padding included.
func (i *Info) TotalLength() int64 { return i.Length }

// NumPieces is the number of pieces.
func (i *Info) NumPieces() int { return len(i.Pieces) }

// PieceLen is the length of piece p: PieceLength, except for the last piece.
// It panics if p is out of range.
func (i *Info) PieceLen(p int) int64 {
	if p < 0 || p >= len(i.Pieces) {
		panic(fmt.Sprintf("metainfo: piece %d out of range [0,%d)", p, len(i.Pieces)))
	}
	if p == len(i.Pieces)-1 {
		return i.Length - int64(p)*i.PieceLength
	}
	return i.PieceLength
}

// PieceHash is the SHA-1 of piece p. It panics if p is out of range.
func (i *Info) PieceHash(p int) [20]byte { return i.Pieces[p] }

// InfoHashHex is the v1 info-hash in lower-case hex.
func (m *MetaInfo) InfoHashHex() string { return hex.EncodeToString(m.InfoHash[:]) }

// Trackers returns the announce tiers: "announce-list" when it has any URL
// (BEP 12), else [["announce"]], else nil. URLs are deduplicated across
// tiers, keeping the first. The result is a fresh copy.
func (m *MetaInfo) Trackers() [][]string {
	seen := map[string]bool{}
	var tiers [][]string
	for _, tier := range m.AnnounceList {
		var t []string
		for _, u := range tier {
			if u != "" && !seen[u] {
				seen[u] = true
				t = append(t, u)
			}
		}
		if len(t) > 0 {
			tiers = append(tiers, t)
		}
	}
	if len(tiers) == 0 && m.Announce != "" {
		tiers = [][]string{{m.Announce}}
	}
	return tiers
}

// Magnet returns a magnet link for the torrent: its info-hash(es), name,
// trackers and web seeds.
func (m *MetaInfo) Magnet() *Magnet {
	mg := &Magnet{InfoHash: m.InfoHash, HasV1: true, Name: m.Info.Name, WebSeeds: append([]string(nil), m.URLList...)}
	if m.Hybrid {
		mg.InfoHashV2, mg.HasV2 = m.InfoHashV2, true
	}
	for _, t := range m.Trackers() {
		mg.Trackers = append(mg.Trackers, t...)
	}
	return mg
}

// Load reads and parses a .torrent file of at most MaxTorrentSize bytes.
// A directory, or a file whose size is over the limit, is refused from its
// metadata before anything is read (a *FieldError wrapping ErrMalformed or
// ErrLimit). Errors from Parse are returned as they are (*FieldError); the
// caller adds the file name.
func Load(path string) (*MetaInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fieldErr("", ErrMalformed, "is a directory, not a .torrent file")
	}
	// Only a regular file's size is known; pipes and devices are bounded
	// by the limited read below.
	if fi.Mode().IsRegular() && fi.Size() > MaxTorrentSize {
		return nil, fieldErr("", ErrLimit, "%d bytes: larger than a .torrent may be (%d MiB)", fi.Size(), MaxTorrentSize>>20)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxTorrentSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxTorrentSize {
		return nil, fieldErr("", ErrLimit, "file exceeds the limit of %d bytes", MaxTorrentSize)
	}
	return Parse(data)
}

// torrentFile is the top level of a .torrent. Descriptive fields are raw so
// that a wrongly typed comment does not cost a usable torrent (they are
// informational); trackers and info are typed and checked.
type torrentFile struct {
	Announce     bencode.RawMessage `bencode:"announce"`
	AnnounceList bencode.RawMessage `bencode:"announce-list"`
	Comment      bencode.RawMessage `bencode:"comment"`
	CommentUTF8  bencode.RawMessage `bencode:"comment.utf-8"`
	CreatedBy    bencode.RawMessage `bencode:"created by"`
	CreationDate bencode.RawMessage `bencode:"creation date"`
	Encoding     bencode.RawMessage `bencode:"encoding"`
	Info         bencode.RawMessage `bencode:"info"`
	URLList      bencode.RawMessage `bencode:"url-list"`
}

// Parse parses a .torrent file. It refuses anything malformed or hostile
// with a *FieldError naming the field (see the package documentation for
// what is refused and what is repaired). The info-hash is the SHA-1 of the
// info dictionary's bytes exactly as they appear in data.
func Parse(data []byte) (*MetaInfo, error) {
	if len(data) > MaxTorrentSize {
		return nil, fieldErr("", ErrLimit, "file exceeds the limit of %d bytes", MaxTorrentSize)
	}
	var tf torrentFile
	if err := bencode.UnmarshalLimits(data, &tf, bencode.Limits{MaxSize: MaxTorrentSize}); err != nil {
		return nil, bencodeErr("", err)
	}
	if len(tf.Info) == 0 {
		return nil, malformed("info", "missing")
	}
	m := &MetaInfo{InfoBytes: tf.Info, InfoHash: sha1.Sum(tf.Info)}
	var err error
	if m.Announce, err = optString("announce", tf.Announce); err != nil {
		return nil, err
	}
	if len(tf.AnnounceList) > 0 {
		var al [][]string
		if err := bencode.Unmarshal(tf.AnnounceList, &al); err != nil {
			return nil, bencodeErr("announce-list", err)
		}
		for _, tier := range al {
			var t []string
			for _, u := range tier {
				if u != "" {
					t = append(t, u)
				}
			}
			if len(t) > 0 {
				m.AnnounceList = append(m.AnnounceList, t)
			}
		}
	}
	if m.URLList, err = parseURLList(tf.URLList); err != nil {
		return nil, err
	}
	// Informational fields: taken when well-typed, ignored otherwise.
	m.Comment, _ = optString("comment", tf.Comment)
	if s, _ := optString("comment.utf-8", tf.CommentUTF8); s != "" {
		m.Comment = s
	}
	m.CreatedBy, _ = optString("created by", tf.CreatedBy)
	m.Encoding, _ = optString("encoding", tf.Encoding)
	if len(tf.CreationDate) > 0 {
		_ = bencode.Unmarshal(tf.CreationDate, &m.CreationDate)
	}

	info, hybrid, err := parseInfo(tf.Info)
	if err != nil {
		return nil, err
	}
	m.Info = *info
	if hybrid {
		m.Hybrid = true
		m.InfoHashV2 = sha256.Sum256(tf.Info)
	}
	return m, nil
}

// ParseInfo parses a bare info dictionary, such as one received from peers
// by metadata exchange (BEP 9), with the same checks as Parse, and returns
// a MetaInfo holding it (no trackers: take them from the magnet link). The
// caller must compare InfoHash with the info-hash it asked for before using
// the result (a peer can send anything). The bytes are copied.
func ParseInfo(infoBytes []byte) (*MetaInfo, error) {
	if len(infoBytes) > MaxTorrentSize {
		return nil, fieldErr("info", ErrLimit, "%d bytes exceed the limit of %d", len(infoBytes), MaxTorrentSize)
	}
	raw := bytes.Clone(infoBytes)
	info, hybrid, err := parseInfo(raw)
	if err != nil {
		return nil, err
	}
	m := &MetaInfo{Info: *info, InfoBytes: raw, InfoHash: sha1.Sum(raw), Hybrid: hybrid}
	if hybrid {
		m.InfoHashV2 = sha256.Sum256(raw)
	}
	return m, nil
}

func optString(field string, raw bencode.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if err := bencode.Unmarshal(raw, &s); err != nil {
		return "", bencodeErr(field, err)
	}
	return s, nil
}

// parseURLList accepts BEP 19's string or list of strings.
func parseURLList(raw bencode.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if raw[0] >= '0' && raw[0] <= '9' {
		s, err := optString("url-list", raw)
		if err != nil || s == "" {
			return nil, err
		}
		return []string{s}, nil
	}
	var l []string
	if err := bencode.Unmarshal(raw, &l); err != nil {
		return nil, bencodeErr("url-list", err)
	}
	out := l[:0]
	for _, u := range l {
		if u != "" {
			out = append(out, u)
		}
	}
	return out, nil
}

// bencodeErr turns a bencode error into a *FieldError: type errors name
// their field (under prefix), syntax errors their offset.
func bencodeErr(prefix string, err error) error {
	switch e := err.(type) {
	case *bencode.UnmarshalTypeError:
		f := joinField(prefix, e.Field)
		return &FieldError{Field: f, Msg: "expected " + kindOf(e) + ", found " + e.Value, Err: err}
	case *bencode.SyntaxError:
		return &FieldError{Field: prefix, Msg: fmt.Sprintf("invalid bencode at offset %d: %s", e.Offset, e.Msg), Err: err}
	case *bencode.MarshalerError:
		if fe, ok := e.Err.(*FieldError); ok {
			fe.Field = joinField(prefix, fe.Field)
			return fe
		}
	}
	return &FieldError{Field: prefix, Msg: err.Error(), Err: err}
}

func joinField(prefix, f string) string {
	switch {
	case prefix == "":
		return f
	case f == "":
		return prefix
	case f[0] == '[':
		return prefix + f
	}
	return prefix + "." + f
}

// kindOf names the bencode kind a Go type expects, for messages.
func kindOf(e *bencode.UnmarshalTypeError) string {
	switch e.Type.Kind().String() {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "bool":
		return "an integer"
	case "string":
		return "a string"
	case "slice", "array":
		if e.Type.Elem().Kind().String() == "uint8" {
			return "a string"
		}
		return "a list"
	case "map", "struct":
		return "a dictionary"
	}
	return e.Type.String()
}

// Encode returns the .torrent file for m: its top-level fields with the info
// dictionary copied verbatim from InfoBytes (so the info-hash is unchanged).
func (m *MetaInfo) Encode() ([]byte, error) {
	if len(m.InfoBytes) == 0 {
		return nil, malformed("info", "no info bytes to encode")
	}
	out := struct {
		Announce     string             `bencode:"announce,omitempty"`
		AnnounceList [][]string         `bencode:"announce-list,omitempty"`
		Comment      string             `bencode:"comment,omitempty"`
		CreatedBy    string             `bencode:"created by,omitempty"`
		CreationDate int64              `bencode:"creation date,omitempty"`
		Encoding     string             `bencode:"encoding,omitempty"`
		Info         bencode.RawMessage `bencode:"info"`
		URLList      []string           `bencode:"url-list,omitempty"`
	}{m.Announce, m.AnnounceList, m.Comment, m.CreatedBy, m.CreationDate, m.Encoding, m.InfoBytes, m.URLList}
	return bencode.Marshal(&out)
}
