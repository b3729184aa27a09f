package metainfo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Path limits (libtorrent's choices).
const (
	MaxPathDepth      = 100 // components in one file path
	MaxDuplicateNames = 500 // renames tried for one duplicate file path
	maxComponentBytes = 255 // bytes in one component (most file systems)
)

// errDotDot marks a ".." component: the one path problem that is refused
// rather than repaired, because it is an attempt to escape.
var errDotDot = errors.New(`path component ".." is not allowed`)

// SanitizeComponent turns one path component from a torrent into a safe file
// name, the same way on every OS (so a torrent lays out identically
// everywhere):
//
//   - ".." is refused (error): it can only be an attempt to escape;
//   - "." and "" are dropped (ok=false), as libtorrent does;
//   - invalid UTF-8 bytes, control characters (C0, DEL, C1), '/' and '\'
//     become '_';
//   - bidi controls and zero-width characters (U+061C, U+200B-U+200F,
//     U+202A-U+202E, U+2060-U+2069, U+FEFF) are removed;
//   - a leading drive letter ("C:") becomes "C_";
//   - trailing dots and spaces are trimmed (Windows drops them silently,
//     which would alias names); an empty result becomes "_";
//   - Windows reserved device names (CON, PRN, AUX, NUL, COM0-9, LPT0-9,
//     with any extension, any case) get a leading '_';
//   - components longer than 255 bytes are shortened, keeping a short
//     extension.
func SanitizeComponent(s string) (out string, ok bool, err error) {
	if s == ".." {
		return "", false, errDotDot
	}
	if s == "" || s == "." {
		return "", false, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte('_')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '/' || r == '\\':
			b.WriteByte('_')
		case isInvisible(r):
			// dropped
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	out = b.String()
	if len(out) >= 2 && out[1] == ':' && isASCIILetter(out[0]) {
		out = out[:1] + "_" + out[2:]
	}
	out = strings.TrimRight(out, ". ")
	if out == "" {
		out = "_"
	}
	if isReservedWindowsName(out) {
		out = "_" + out
	}
	if len(out) > maxComponentBytes {
		out = shorten(out)
	}
	return out, true, nil
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// isInvisible reports bidi controls and zero-width characters, which can
// make a name display differently from what it is ("gpj.exe").
func isInvisible(r rune) bool {
	switch {
	case r == 0x061c, r == 0xfeff:
		return true
	case r >= 0x200b && r <= 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e:
		return true
	case r >= 0x2060 && r <= 0x2069:
		return true
	}
	return false
}

func isReservedWindowsName(s string) bool {
	base, _, _ := strings.Cut(s, ".")
	base = strings.TrimRight(base, " ")
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	if len(base) == 4 {
		p := strings.ToUpper(base[:3])
		if (p == "COM" || p == "LPT") && base[3] >= '0' && base[3] <= '9' {
			return true
		}
	}
	return false
}

// shorten cuts s to maxComponentBytes at a rune boundary, keeping an
// extension of up to 16 bytes.
func shorten(s string) string {
	ext := filepath.Ext(s)
	if len(ext) > 16 {
		ext = ""
	}
	stem := s[:len(s)-len(ext)]
	limit := maxComponentBytes - len(ext)
	for limit > 0 && !utf8.RuneStart(stem[limit]) {
		limit--
	}
	return strings.TrimRight(stem[:limit], ". ") + ext
}

// sanitizePath sanitises the components of one torrent path; field names
// the path in errors.
func sanitizePath(field string, comps []string) ([]string, error) {
	if len(comps) > MaxPathDepth {
		return nil, fieldErr(field, ErrLimit, "%d components exceed the limit of %d", len(comps), MaxPathDepth)
	}
	out := make([]string, 0, len(comps))
	for i, c := range comps {
		s, ok, err := SanitizeComponent(c)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("%s[%d]", field, i), ErrUnsafePath, "%v", err)
		}
		if ok {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, malformed(field, "empty path")
	}
	return out, nil
}

// SafeJoin joins components under root and proves that the result stays
// under root: every component must be a plain name (not empty, ".", "..",
// nor containing a separator or NUL), and every existing prefix of the path
// that is a symbolic link must resolve to a place under root (root's own
// symlinks are resolved first). It returns the lexical path root/c1/c2/...
// (absolute). Errors wrap ErrUnsafePath. The check is made at call time:
// a symlink created afterwards is not covered (open with O_NOFOLLOW or
// openat2(RESOLVE_BENEATH) to close that race).
func SafeJoin(root string, components []string) (string, error) {
	if root == "" {
		return "", fmt.Errorf("%w: empty download directory", ErrUnsafePath)
	}
	if len(components) == 0 {
		return "", fmt.Errorf("%w: empty path", ErrUnsafePath)
	}
	for _, c := range components {
		if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\\\x00") {
			return "", fmt.Errorf("%w: path component %q", ErrUnsafePath, c)
		}
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	joined := filepath.Join(append([]string{absRoot}, components...)...)
	if rel, err := filepath.Rel(absRoot, joined); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == "." {
		return "", fmt.Errorf("%w: %q leaves %q", ErrUnsafePath, joined, absRoot)
	}
	realRoot, err := filepath.EvalSymlinks(absRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return joined, nil // nothing exists under it yet, so no symlinks either
	}
	if err != nil {
		return "", err
	}
	cur := realRoot
	for i, c := range components {
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return joined, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(next)
			if errors.Is(err, fs.ErrNotExist) {
				// A dangling link: writing through it would create its
				// target, wherever that is. Refuse.
				return "", fmt.Errorf("%w: %s is a dangling symbolic link", ErrUnsafePath, filepath.Join(components[:i+1]...))
			}
			if err != nil {
				return "", err
			}
			if !within(realRoot, target) {
				return "", fmt.Errorf("%w: %s is a symbolic link leading outside %s", ErrUnsafePath, filepath.Join(components[:i+1]...), absRoot)
			}
			next = target
		}
		cur = next
	}
	return joined, nil
}

// within reports whether p is root or below it (both cleaned, absolute).
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}
