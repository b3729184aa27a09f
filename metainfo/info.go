package metainfo

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/effusion-bt/effusion/bencode"
)

// infoDict is the info dictionary as it appears in v1 and hybrid torrents.
type infoDict struct {
	Files       bencode.RawMessage `bencode:"files"`
	FileTree    bencode.RawMessage `bencode:"file tree"`
	Length      *int64             `bencode:"length"`
	MetaVersion *int64             `bencode:"meta version"`
	Name        *string            `bencode:"name"`
	NameUTF8    *string            `bencode:"name.utf-8"`
	PieceLength *int64             `bencode:"piece length"`
	Pieces      *pieceHashes       `bencode:"pieces"`
	Private     *int64             `bencode:"private"`
	Source      string             `bencode:"source"`
	Attr        string             `bencode:"attr"`
}

type fileDict struct {
	Attr        string   `bencode:"attr"`
	Length      *int64   `bencode:"length"`
	Path        []string `bencode:"path"`
	PathUTF8    []string `bencode:"path.utf-8"`
	SymlinkPath []string `bencode:"symlink path"`
}

// pieceHashes decodes "pieces" straight into 20-byte hashes, with a single
// allocation, after checking the length is a multiple of 20 and within
// MaxPieces.
type pieceHashes [][20]byte

// UnmarshalBencode implements bencode.Unmarshaler; errors are *FieldError.
func (p *pieceHashes) UnmarshalBencode(raw []byte) error {
	colon := bytes.IndexByte(raw, ':')
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' || colon < 0 {
		return malformed("pieces", "expected a string")
	}
	s := raw[colon+1:]
	if len(s)%20 != 0 {
		return malformed("pieces", "length %d is not a multiple of 20", len(s))
	}
	if len(s)/20 > MaxPieces {
		return fieldErr("pieces", ErrLimit, "%d pieces exceed the limit of %d", len(s)/20, MaxPieces)
	}
	h := make([][20]byte, len(s)/20)
	for i := range h {
		copy(h[i][:], s[i*20:])
	}
	*p = h
	return nil
}

// parseInfo checks and converts the info dictionary. hybrid reports a BEP 52
// hybrid torrent (parsed through its v1 part).
func parseInfo(raw []byte) (*Info, bool, error) {
	var d infoDict
	if err := bencode.UnmarshalLimits(raw, &d, bencode.Limits{MaxSize: MaxTorrentSize}); err != nil {
		return nil, false, bencodeErr("info", err)
	}
	hybrid := false
	if d.MetaVersion != nil {
		switch *d.MetaVersion {
		case 1:
		case 2:
			if d.Pieces == nil {
				return nil, false, fieldErr("info", ErrV2Only, "%v", ErrV2Only)
			}
			hybrid = true
		default:
			return nil, false, malformed("info.meta version", "unsupported version %d", *d.MetaVersion)
		}
	} else if d.Pieces == nil && len(d.FileTree) > 0 {
		return nil, false, fieldErr("info", ErrV2Only, "%v (a file tree without meta version)", ErrV2Only)
	}

	info := &Info{Source: d.Source}
	name, err := infoName(&d)
	if err != nil {
		return nil, false, err
	}
	info.Name = name

	if d.PieceLength == nil {
		return nil, false, malformed("info.piece length", "missing")
	}
	pl := *d.PieceLength
	if pl <= 0 {
		return nil, false, malformed("info.piece length", "%d is not positive", pl)
	}
	if pl > MaxPieceLength {
		return nil, false, fieldErr("info.piece length", ErrLimit, "%d exceeds the limit of %d", pl, MaxPieceLength)
	}
	if hybrid && (pl < 16<<10 || pl&(pl-1) != 0) {
		return nil, false, malformed("info.piece length", "%d must be a power of two of at least 16 KiB in a v2 torrent", pl)
	}
	info.PieceLength = pl
	if d.Pieces == nil {
		return nil, false, malformed("info.pieces", "missing")
	}
	info.Pieces = *d.Pieces
	if d.Private != nil && *d.Private != 0 {
		info.Private = true
	}

	switch {
	case len(d.Files) > 0 && d.Length != nil:
		return nil, false, malformed("info", `has both "files" and "length"`)
	case d.Length != nil:
		n := *d.Length
		if n < 0 {
			return nil, false, malformed("info.length", "%d is negative", n)
		}
		if n > MaxFileLength {
			return nil, false, fieldErr("info.length", ErrLimit, "%d exceeds the limit of %d", n, MaxFileLength)
		}
		info.Files = []File{{Path: []string{name}, Length: n, Attr: d.Attr, Padding: strings.ContainsRune(d.Attr, 'p')}}
		info.Length = n
	case len(d.Files) > 0:
		info.MultiFile = true
		if err := parseFiles(info, d.Files); err != nil {
			return nil, false, err
		}
	default:
		return nil, false, malformed("info", `has neither "files" nor "length"`)
	}

	// ceil(total / piece length) pieces, exactly.
	want := info.Length / pl
	if info.Length%pl != 0 {
		want++
	}
	if int64(len(info.Pieces)) != want {
		return nil, false, malformed("info.pieces", "%d hashes for %d bytes in pieces of %d (want %d)", len(info.Pieces), info.Length, pl, want)
	}
	if want == 0 {
		return nil, false, malformed("info", "the torrent has no data (total length 0)")
	}
	if hybrid {
		if err := checkHybrid(info, d.FileTree); err != nil {
			return nil, false, err
		}
	}
	return info, hybrid, nil
}

// infoName picks "name.utf-8" when it is valid UTF-8, else "name", and
// sanitises it. An unusable name is refused: it is the top directory or
// the file itself.
func infoName(d *infoDict) (string, error) {
	field := "info.name"
	var name string
	switch {
	case d.NameUTF8 != nil && utf8.ValidString(*d.NameUTF8) && *d.NameUTF8 != "":
		name, field = *d.NameUTF8, "info.name.utf-8"
	case d.Name != nil:
		name = *d.Name
	default:
		return "", malformed(field, "missing")
	}
	s, ok, err := SanitizeComponent(name)
	if err != nil {
		return "", fieldErr(field, ErrUnsafePath, "%v", err)
	}
	if !ok {
		return "", malformed(field, "%q is not a usable name", name)
	}
	return s, nil
}

// parseFiles converts info.files: lengths, padding, sanitised paths,
// duplicate handling and total size. The list is decoded one entry at a
// time, so a hostile list of millions of tiny entries is refused at
// MaxFiles instead of being materialised first.
func parseFiles(info *Info, raw []byte) error {
	if raw[0] != 'l' {
		var l []any
		return bencodeErr("info.files", bencode.Unmarshal(raw, &l))
	}
	dec := bencode.NewDecoder(bytes.NewReader(raw[1 : len(raw)-1]))
	names := newNameSet()
	var total int64
	for i := 0; ; i++ {
		field := "info.files[" + strconv.Itoa(i) + "]"
		var fd fileDict
		if err := dec.Decode(&fd); err == io.EOF {
			break
		} else if err != nil {
			return bencodeErr(field, err)
		}
		if i >= MaxFiles {
			return fieldErr("info.files", ErrLimit, "more than %d files", MaxFiles)
		}
		if fd.Length == nil {
			return malformed(field+".length", "missing")
		}
		n := *fd.Length
		if n < 0 {
			return malformed(field+".length", "%d is negative", n)
		}
		if n > MaxFileLength {
			return fieldErr(field+".length", ErrLimit, "%d exceeds the limit of %d", n, MaxFileLength)
		}
		comps, pfield := fd.Path, field+".path"
		if len(fd.PathUTF8) > 0 && allValidUTF8(fd.PathUTF8) {
			comps, pfield = fd.PathUTF8, field+".path.utf-8"
		}
		if fd.Path == nil && fd.PathUTF8 == nil {
			return malformed(pfield, "missing")
		}
		p, err := sanitizePath(pfield, comps)
		if err != nil {
			return err
		}
		f := File{Length: n, Offset: total, Attr: fd.Attr}
		f.Padding = strings.ContainsRune(fd.Attr, 'p') || strings.HasPrefix(p[len(p)-1], "_____padding_file_")
		if strings.ContainsRune(fd.Attr, 'l') {
			if len(fd.SymlinkPath) == 0 {
				return malformed(field+".symlink path", "missing for a symbolic link")
			}
			if f.SymlinkPath, err = sanitizePath(field+".symlink path", fd.SymlinkPath); err != nil {
				return err
			}
		}
		if !f.Padding {
			if p, err = names.add(pfield, p); err != nil {
				return err
			}
		}
		f.Path = append([]string{info.Name}, p...)
		info.Files = append(info.Files, f)
		total += n // both operands are at most 2^50 * 2^20 in total: no overflow
	}
	if len(info.Files) == 0 {
		return malformed("info.files", "empty list")
	}
	info.Length = total
	return nil
}

func allValidUTF8(s []string) bool {
	for _, c := range s {
		if !utf8.ValidString(c) {
			return false
		}
	}
	return true
}

// nameSet tracks the files and directories a torrent creates, to rename
// exact duplicates (as libtorrent does: "name.1.ext") and to refuse a file
// that is also used as a directory.
type nameSet struct {
	files map[string]bool
	dirs  map[string]bool
}

func newNameSet() *nameSet { return &nameSet{files: map[string]bool{}, dirs: map[string]bool{}} }

func (s *nameSet) add(field string, p []string) ([]string, error) {
	for i := 1; i < len(p); i++ {
		dir := strings.Join(p[:i], "/")
		if s.files[dir] {
			return nil, malformed(field, "directory %q is also a file", dir)
		}
	}
	key := strings.Join(p, "/")
	if s.dirs[key] || s.files[key] {
		last := p[len(p)-1]
		ext := ""
		if dot := strings.LastIndexByte(last, '.'); dot > 0 {
			last, ext = last[:dot], last[dot:]
		}
		renamed := false
		for n := 1; n <= MaxDuplicateNames; n++ {
			q := append(append([]string(nil), p[:len(p)-1]...), fmt.Sprintf("%s.%d%s", last, n, ext))
			k := strings.Join(q, "/")
			if !s.dirs[k] && !s.files[k] {
				p, key, renamed = q, k, true
				break
			}
		}
		if !renamed {
			return nil, fieldErr(field, ErrLimit, "more than %d files named %q", MaxDuplicateNames, key)
		}
	}
	s.files[key] = true
	for i := 1; i < len(p); i++ {
		s.dirs[strings.Join(p[:i], "/")] = true
	}
	return p, nil
}
