package bencode

import (
	"bytes"
	"reflect"
)

// Unmarshaler is implemented by types that decode themselves. The argument is
// the raw bytes of exactly one valid value (already checked), which the method
// must copy if it keeps them.
type Unmarshaler interface {
	UnmarshalBencode([]byte) error
}

// Unmarshal decodes the single bencode value in data into v, which must be a
// non-nil pointer, with the default Limits. It is strict: dictionary keys
// sorted and unique, integers canonical and within int64, no bytes after the
// value. Errors are *SyntaxError (malformed, with offset), *UnmarshalTypeError
// (does not fit v, with the field path), *InvalidUnmarshalError or a
// *MarshalerError from an Unmarshaler. Strings and byte slices are copied: v
// never aliases data. On error v may be partly filled.
func Unmarshal(data []byte, v any) error {
	return UnmarshalLimits(data, v, Limits{})
}

// UnmarshalLimits is Unmarshal with explicit limits; with
// lim.AllowUnsorted, dictionary keys may come in any order (duplicates are
// still a *SyntaxError), in nested values and RawMessage fields too.
func UnmarshalLimits(data []byte, v any, lim Limits) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &InvalidUnmarshalError{reflect.TypeOf(v)}
	}
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxSize {
		return limitErr(0, "input of %d bytes exceeds the limit of %d bytes", len(data), lim.MaxSize)
	}
	d := decodeState{data: data, lim: lim}
	if err := d.value(rv.Elem()); err != nil {
		return err
	}
	if d.off != len(data) {
		return syntaxErr(d.off, "expected end of input after the value, found %s", quoteByte(data, d.off))
	}
	return nil
}

// Valid reports whether data is exactly one valid bencode value under the
// default Limits.
func Valid(data []byte) bool {
	d := decodeState{data: data, lim: Limits{}.withDefaults()}
	if int64(len(data)) > d.lim.MaxSize {
		return false
	}
	return d.skip() == nil && d.off == len(data)
}

// decodeState walks data once; off is the next unread byte.
type decodeState struct {
	data   []byte
	off    int
	depth  int
	tokens int // values read so far (keys included), against lim.MaxTokens
	lim    Limits
}

// token counts one value; the cap bounds the memory a small input can make
// the decoder allocate (a list of a million "de" is 2 MB of input).
func (d *decodeState) token() error {
	d.tokens++
	if d.tokens > d.lim.MaxTokens {
		return limitErr(d.off, "more than %d values", d.lim.MaxTokens)
	}
	return nil
}

func (d *decodeState) peek() (byte, error) {
	if d.off >= len(d.data) {
		return 0, shortErr(d.off, "value")
	}
	return d.data[d.off], nil
}

func (d *decodeState) enter() error {
	if err := d.token(); err != nil {
		return err
	}
	d.depth++
	if d.depth > d.lim.MaxDepth {
		return limitErr(d.off, "nesting depth exceeds the limit of %d", d.lim.MaxDepth)
	}
	return nil
}

// more reports whether the list or dictionary being read has another
// element. At its closing 'e' it consumes the 'e', leaves the container
// and reports false.
func (d *decodeState) more() (bool, error) {
	c, err := d.peek()
	if err != nil {
		return false, err
	}
	if c == 'e' {
		d.off++
		d.depth--
		return false, nil
	}
	return true, nil
}

// int reads an integer token at d.off.
func (d *decodeState) int() (int64, error) {
	if err := d.token(); err != nil {
		return 0, err
	}
	n, next, err := readInt(d.data, d.off)
	if err != nil {
		return 0, err
	}
	d.off = next
	return n, nil
}

// str reads a string token at d.off and returns a slice of the input (the
// caller copies it if it keeps it).
func (d *decodeState) str() ([]byte, error) {
	if err := d.token(); err != nil {
		return nil, err
	}
	n, start, err := readStrHeader(d.data, d.off, d.lim.MaxStringLen)
	if err != nil {
		return nil, err
	}
	if n > len(d.data)-start {
		return nil, shortErr(len(d.data), "string (length "+itoa(n)+")")
	}
	d.off = start + n
	return d.data[start:d.off], nil
}

// dictKeys checks the keys of one dictionary as they are read. Strictly,
// each key must sort after the previous one. With Limits.AllowUnsorted only
// uniqueness is checked: while keys arrive sorted, comparing with the
// previous key suffices (the keys are remembered as slices of the input);
// from the first key out of order on,
// a set of the keys seen so far finds duplicates in O(1) per key, so a
// hostile dictionary of n keys costs O(n), not O(n²).
type dictKeys struct {
	prev  []byte   // last key read (a slice of the input)
	first bool     // no key read yet
	seen  [][]byte // keys read while still sorted (AllowUnsorted only)
	set   map[string]struct{}
}

func newDictKeys() dictKeys { return dictKeys{first: true} }

// key reads a dictionary key and checks it against the keys before it.
func (d *decodeState) key(ks *dictKeys) ([]byte, error) {
	c := d.data[d.off]
	if c < '0' || c > '9' {
		return nil, syntaxErr(d.off, "expected a string dictionary key or 'e', found %s", quoteByte(d.data, d.off))
	}
	at := d.off
	k, err := d.str()
	if err != nil {
		return nil, err
	}
	if err := ks.add(k, at, d.lim.AllowUnsorted); err != nil {
		return nil, err
	}
	return k, nil
}

// add records key k read at offset at.
func (ks *dictKeys) add(k []byte, at int, unsorted bool) error {
	if ks.first {
		ks.first = false
		ks.prev = k
		if unsorted {
			ks.seen = append(ks.seen, k)
		}
		return nil
	}
	if ks.set != nil {
		if _, dup := ks.set[string(k)]; dup {
			return syntaxErr(at, "duplicate dictionary key %q", k)
		}
		ks.set[string(k)] = struct{}{}
		ks.prev = k
		return nil
	}
	switch bytes.Compare(k, ks.prev) {
	case 0:
		return syntaxErr(at, "duplicate dictionary key %q", k)
	case -1:
		if !unsorted {
			return syntaxErr(at, "dictionary key %q is not sorted after %q", k, ks.prev)
		}
		// Keys so far were strictly increasing, hence distinct; k may
		// equal any of them.
		ks.set = make(map[string]struct{}, 2*len(ks.seen))
		for _, s := range ks.seen {
			ks.set[string(s)] = struct{}{}
		}
		if _, dup := ks.set[string(k)]; dup {
			return syntaxErr(at, "duplicate dictionary key %q", k)
		}
		ks.set[string(k)] = struct{}{}
		ks.seen = nil
	default:
		if unsorted {
			ks.seen = append(ks.seen, k)
		}
	}
	ks.prev = k
	return nil
}

// skip validates and steps over one value.
func (d *decodeState) skip() error {
	c, err := d.peek()
	if err != nil {
		return err
	}
	switch {
	case c == 'i':
		_, err = d.int()
		return err
	case c >= '0' && c <= '9':
		_, err = d.str()
		return err
	case c == 'l':
		if err := d.enter(); err != nil {
			return err
		}
		d.off++
		for {
			more, err := d.more()
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == 'd':
		if err := d.enter(); err != nil {
			return err
		}
		d.off++
		ks := newDictKeys()
		for {
			more, err := d.more()
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			if _, err := d.key(&ks); err != nil {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
	return syntaxErr(d.off, "%s, found %s", valueStart, quoteByte(d.data, d.off))
}

// generic decodes one value into the generic form: int64, string, []any,
// map[string]any.
func (d *decodeState) generic() (any, error) {
	c, err := d.peek()
	if err != nil {
		return nil, err
	}
	switch {
	case c == 'i':
		return d.int()
	case c >= '0' && c <= '9':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return string(s), nil
	case c == 'l':
		if err := d.enter(); err != nil {
			return nil, err
		}
		d.off++
		l := []any{}
		for {
			more, err := d.more()
			if err != nil {
				return nil, err
			}
			if !more {
				return l, nil
			}
			v, err := d.generic()
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
	case c == 'd':
		if err := d.enter(); err != nil {
			return nil, err
		}
		d.off++
		m := map[string]any{}
		ks := newDictKeys()
		for {
			more, err := d.more()
			if err != nil {
				return nil, err
			}
			if !more {
				return m, nil
			}
			k, err := d.key(&ks)
			if err != nil {
				return nil, err
			}
			v, err := d.generic()
			if err != nil {
				return nil, err
			}
			m[string(k)] = v
		}
	}
	return nil, syntaxErr(d.off, "%s, found %s", valueStart, quoteByte(d.data, d.off))
}

// kindName names the kind of value starting at d.off, for type errors.
func (d *decodeState) kindName() string {
	if d.off >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[d.off]; {
	case c == 'i':
		return "integer"
	case c == 'l':
		return "list"
	case c == 'd':
		return "dictionary"
	case c >= '0' && c <= '9':
		return "string"
	}
	return "invalid value"
}

// typeErr reports that the value at d.off does not fit t; the value is
// still validated first so that malformed input reports a SyntaxError.
func (d *decodeState) typeErr(t reflect.Type) error {
	at := d.off
	kind := d.kindName()
	if err := d.skip(); err != nil {
		return err
	}
	return &UnmarshalTypeError{Value: kind, Type: t, Offset: int64(at)}
}

// value decodes one value into v (settable).
func (d *decodeState) value(v reflect.Value) error {
	return decoderFor(v.Type())(d, v)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	if n == 0 {
		return "0"
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
