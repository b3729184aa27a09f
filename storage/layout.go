package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// File is one file of a torrent's layout.
type File struct {
	// Path holds the file's path components relative to the download
	// directory (for a multi-file torrent, the torrent's name first).
	// Components must already be sanitised; storage still refuses empty,
	// ".", ".." and separator-carrying components.
	Path []string
	// Length is the file's size in bytes.
	Length int64
	// Padding marks a BEP 47 padding file: never written, reads as zeros.
	Padding bool
}

// Layout is what storage needs to know about a torrent: how the byte
// stream is cut into pieces, the files it fills, and the piece hashes.
type Layout struct {
	PieceLength int64
	Files       []File
	Hashes      [][20]byte
}

// ErrLayout is wrapped by errors about an inconsistent Layout.
var ErrLayout = errors.New("storage: invalid layout")

// fileEntry is a File placed in the torrent's byte stream.
type fileEntry struct {
	rel     string // path under the root, '/'-separated
	offset  int64  // first byte in the torrent stream
	length  int64
	padding bool
	// skipped: the user does not want the file; inPart: its bytes go to
	// the part file (it did not exist when skipped). Both under
	// Storage.route.
	skipped, inPart bool
}

func buildFiles(l Layout) ([]fileEntry, int64, error) {
	if l.PieceLength <= 0 {
		return nil, 0, fmt.Errorf("%w: piece length %d", ErrLayout, l.PieceLength)
	}
	if len(l.Files) == 0 {
		return nil, 0, fmt.Errorf("%w: no files", ErrLayout)
	}
	files := make([]fileEntry, len(l.Files))
	seen := make(map[string]bool, len(l.Files))
	var off int64
	for i, f := range l.Files {
		if f.Length < 0 || off+f.Length < off {
			return nil, 0, fmt.Errorf("%w: file %d length %d", ErrLayout, i, f.Length)
		}
		rel, err := relPath(f.Path)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: file %d: %v", ErrLayout, i, err)
		}
		if !f.Padding {
			if seen[rel] {
				return nil, 0, fmt.Errorf("%w: file %d: duplicate path %q", ErrLayout, i, rel)
			}
			seen[rel] = true
		}
		files[i] = fileEntry{rel: rel, offset: off, length: f.Length, padding: f.Padding}
		off += f.Length
	}
	// A file may not also be a directory of another file.
	for _, f := range files {
		for dir := filepath.Dir(f.rel); dir != "."; dir = filepath.Dir(dir) {
			if seen[dir] {
				return nil, 0, fmt.Errorf("%w: %q is both a file and a directory", ErrLayout, dir)
			}
		}
	}
	if n := (off + l.PieceLength - 1) / l.PieceLength; n != int64(len(l.Hashes)) {
		return nil, 0, fmt.Errorf("%w: %d bytes in pieces of %d need %d hashes, have %d", ErrLayout, off, l.PieceLength, n, len(l.Hashes))
	}
	return files, off, nil
}

// relPath joins sanitised components. It is a last line of defence: the
// metainfo layer sanitises names, and os.Root enforces containment.
func relPath(parts []string) (string, error) {
	if len(parts) == 0 {
		return "", errors.New("empty path")
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/\\\x00") {
			return "", fmt.Errorf("unsafe path component %q", p)
		}
	}
	return strings.Join(parts, "/"), nil
}
