package peerwire

import "errors"

// scanner walks the small bencoded dictionaries of BEP 9 and BEP 11
// messages in place, without allocating: strings come back as sub-slices of
// the input. It follows the bencode package's canonical rules for integers
// and string lengths, but accepts dictionary keys in any order (some clients
// do not sort them); callers refuse repeated keys they know. Every step
// consumes at least one byte, so a walk is bounded by the input length, and
// nesting by maxScanDepth.
type scanner struct {
	b   []byte
	pos int
}

// maxScanDepth bounds the nesting of values skipped inside an extension
// message (the messages themselves are flat).
const maxScanDepth = 8

var (
	errScanShort  = errors.New("truncated bencode")
	errScanSyntax = errors.New("invalid bencode")
	errScanDepth  = errors.New("bencode nested too deeply")
)

// openDict consumes the 'd' that starts a dictionary.
func (s *scanner) openDict() error {
	if s.pos >= len(s.b) {
		return errScanShort
	}
	if s.b[s.pos] != 'd' {
		return errScanSyntax
	}
	s.pos++
	return nil
}

// nextKey returns the next key of the dictionary being walked, or done when
// its closing 'e' has been consumed.
func (s *scanner) nextKey() (key []byte, done bool, err error) {
	if s.pos >= len(s.b) {
		return nil, false, errScanShort
	}
	if s.b[s.pos] == 'e' {
		s.pos++
		return nil, true, nil
	}
	key, err = s.str()
	return key, false, err
}

// int reads an integer value: 'i', an optional '-', digits without leading
// zeros ("-0" refused), 'e', within int64.
func (s *scanner) int() (int64, error) {
	b, p := s.b, s.pos
	if p >= len(b) {
		return 0, errScanShort
	}
	if b[p] != 'i' {
		return 0, errScanSyntax
	}
	p++
	neg := false
	if p < len(b) && b[p] == '-' {
		neg = true
		p++
	}
	start := p
	var n uint64
	for p < len(b) && b[p] >= '0' && b[p] <= '9' {
		if n > (1<<63)/10 {
			return 0, errScanSyntax
		}
		n = n*10 + uint64(b[p]-'0')
		p++
	}
	if p >= len(b) {
		return 0, errScanShort
	}
	digits := p - start
	if b[p] != 'e' || digits == 0 || (b[start] == '0' && (digits > 1 || neg)) {
		return 0, errScanSyntax
	}
	if n > 1<<63 || (n == 1<<63 && !neg) {
		return 0, errScanSyntax
	}
	s.pos = p + 1
	if neg {
		return -int64(n-1) - 1, nil
	}
	return int64(n), nil
}

// str reads a string value and returns it as a sub-slice of the input. The
// claimed length is compared with the bytes actually present first.
func (s *scanner) str() ([]byte, error) {
	b, p := s.b, s.pos
	start := p
	n := 0
	for p < len(b) && b[p] >= '0' && b[p] <= '9' {
		if n > len(b) { // longer than the input: cannot be there
			return nil, errScanShort
		}
		n = n*10 + int(b[p]-'0')
		p++
	}
	if p >= len(b) {
		return nil, errScanShort
	}
	if p == start || b[p] != ':' || (b[start] == '0' && p-start > 1) {
		return nil, errScanSyntax
	}
	p++
	if n > len(b)-p {
		return nil, errScanShort
	}
	s.pos = p + n
	return b[p : p+n], nil
}

// skip consumes one value of any kind.
func (s *scanner) skip(depth int) error {
	if s.pos >= len(s.b) {
		return errScanShort
	}
	switch c := s.b[s.pos]; {
	case c == 'i':
		_, err := s.int()
		return err
	case c >= '0' && c <= '9':
		_, err := s.str()
		return err
	case c == 'l' || c == 'd':
		if depth >= maxScanDepth {
			return errScanDepth
		}
		s.pos++
		for {
			if s.pos >= len(s.b) {
				return errScanShort
			}
			if s.b[s.pos] == 'e' {
				s.pos++
				return nil
			}
			if c == 'd' {
				if _, err := s.str(); err != nil {
					return err
				}
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
		}
	}
	return errScanSyntax
}
