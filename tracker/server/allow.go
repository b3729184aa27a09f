package server

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxAllowList is the most info-hashes an allow-list may hold (a million
// entries take about 60 MiB as a set).
const MaxAllowList = 1 << 20

// maxAllowLine bounds one line of an allow-list file (a hash, blanks and a
// comment).
const maxAllowLine = 4096

// ErrBadAllowList is wrapped by ParseAllowList's errors.
var ErrBadAllowList = errors.New("bad allow-list")

// ParseAllowList reads an allow-list: one info-hash per line as 40
// hexadecimal digits (either case), blank lines, and comments from "#" to
// the end of a line. It returns an error wrapping ErrBadAllowList that
// names the line for anything else, for a line longer than 4 KiB, and for
// more than MaxAllowList hashes; duplicates are kept once. A list without
// any hash is an error too: an empty allow-list would silently open a
// tracker meant to be closed.
func ParseAllowList(r io.Reader) ([][20]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxAllowLine)
	seen := make(map[[20]byte]bool)
	var out [][20]byte
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var h [20]byte
		if len(line) != 40 {
			return nil, fmt.Errorf("%w: line %d: want 40 hexadecimal digits, got %d characters", ErrBadAllowList, n, len(line))
		}
		if _, err := hex.Decode(h[:], line); err != nil {
			return nil, fmt.Errorf("%w: line %d: not a hexadecimal info-hash", ErrBadAllowList, n)
		}
		if seen[h] {
			continue
		}
		if len(out) == MaxAllowList {
			return nil, fmt.Errorf("%w: more than %d info-hashes", ErrBadAllowList, MaxAllowList)
		}
		seen[h] = true
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: line %d: longer than %d bytes", ErrBadAllowList, n+1, maxAllowLine)
		}
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no info-hashes", ErrBadAllowList)
	}
	return out, nil
}

// LoadAllowList reads the allow-list file at path (see ParseAllowList);
// errors name the file.
func LoadAllowList(path string) ([][20]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	list, err := ParseAllowList(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return list, nil
}
