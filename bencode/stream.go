package bencode

import (
	"bytes"
	"io"
)

// readChunk bounds one Read: the buffer grows with the data that actually
// arrives, never with a length the input claims.
const readChunk = 64 << 10

// Decoder reads bencoded values from a stream, one per Decode call. It may
// read ahead of the value it returns (in chunks of at most 64 KiB); those
// bytes are kept for the next Decode and are available from Buffered. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	r      io.Reader
	buf    []byte // buf[start:] is unconsumed input
	start  int
	err    error // sticky read error (io.EOF included)
	lim    Limits
	offset int64 // stream offset of buf[start]
	stack  []streamFrame
	tokens int // complete tokens scanned in the current value
}

// NewDecoder returns a Decoder reading from r with the default Limits.
func NewDecoder(r io.Reader) *Decoder { return &Decoder{r: r, lim: Limits{}.withDefaults()} }

// SetLimits replaces the limits applied to each value; MaxSize bounds how
// much the Decoder buffers for one value.
func (d *Decoder) SetLimits(l Limits) { d.lim = l.withDefaults() }

// Buffered returns the bytes read from the stream but not yet decoded. The
// reader is valid until the next Decode.
func (d *Decoder) Buffered() io.Reader { return bytes.NewReader(d.buf[d.start:]) }

// InputOffset is the stream offset just after the last decoded value.
func (d *Decoder) InputOffset() int64 { return d.offset }

// Decode reads the next value from the stream and stores it in v (see
// Unmarshal for the rules). It returns io.EOF when the stream ends cleanly
// before a value starts, and a *SyntaxError wrapping io.ErrUnexpectedEOF when
// it ends inside one. Offsets in errors count from the start of the value.
// After a syntax error the stream position is undefined.
func (d *Decoder) Decode(v any) error {
	n, err := d.frame()
	if err != nil {
		return err
	}
	val := d.buf[d.start : d.start+n]
	d.start += n
	d.offset += int64(n)
	return UnmarshalLimits(val, v, d.lim)
}

type streamFrame struct {
	dict      bool
	wantKey   bool
	prevStart int // previous key as buf[prevStart:prevEnd], relative to the value start
	prevEnd   int
	hasPrev   bool
}

// frame finds the end of the next value, reading as needed, and returns its
// length. Scanning resumes token by token after each read, so a value that
// arrives in many small reads is scanned once, not once per read.
func (d *Decoder) frame() (int, error) {
	// Compact so that offsets within the value stay valid while it grows.
	if d.start > 0 {
		n := copy(d.buf, d.buf[d.start:])
		d.buf = d.buf[:n]
		d.start = 0
	}
	d.stack = d.stack[:0]
	d.tokens = 0
	pos := 0 // next token, relative to d.start == 0
	for {
		b := d.buf
		end, next, err := d.scan(b, pos)
		if err == nil && end {
			return next, nil
		}
		if err != nil && !isShort(err) {
			return 0, err
		}
		pos = next
		if int64(len(b)) > d.lim.MaxSize {
			return 0, limitErr(0, "value exceeds the limit of %d bytes", d.lim.MaxSize)
		}
		if d.err != nil {
			if d.err == io.EOF {
				if len(b) == 0 {
					return 0, io.EOF
				}
				if err == nil {
					err = shortErr(len(b), "value")
				}
				return 0, err
			}
			return 0, d.err
		}
		d.fill()
	}
}

// fill reads once into the spare capacity, growing the buffer by at most
// readChunk and at most doubling it.
func (d *Decoder) fill() {
	if cap(d.buf)-len(d.buf) < 512 {
		grow := min(max(len(d.buf), 4096), readChunk)
		nb := make([]byte, len(d.buf), len(d.buf)+grow)
		copy(nb, d.buf)
		d.buf = nb
	}
	// io.Reader allows (0, nil) now and then; give up after a run of them
	// rather than spin (as bufio does).
	for range 100 {
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	d.err = io.ErrNoProgress
}

// scan advances through complete tokens from pos. It returns end=true and
// the offset after the value once the top-level value is complete; otherwise
// a short error (with next = the start of the incomplete token) or a syntax
// error. The values are fully validated later by Unmarshal; scan enforces
// what bounds buffering: depth, string length and the structure.
func (d *Decoder) scan(b []byte, pos int) (end bool, next int, err error) {
	for {
		if pos >= len(b) {
			return false, pos, shortErr(pos, "value")
		}
		c := b[pos]
		top := len(d.stack) - 1
		if top >= 0 && d.stack[top].dict && d.stack[top].wantKey {
			if c == 'e' {
				d.stack = d.stack[:top]
				pos++
				if len(d.stack) == 0 {
					return true, pos, nil
				}
				d.afterValue()
				continue
			}
			if !isDigit(c) {
				return false, pos, syntaxErr(pos, "expected a string dictionary key or 'e', found %s", quoteByte(b, pos))
			}
			n, s, err := readStrHeader(b, pos, d.lim.MaxStringLen)
			if err != nil {
				return false, pos, err
			}
			if n > len(b)-s {
				return false, pos, shortErr(len(b), "string")
			}
			f := &d.stack[top]
			// With AllowUnsorted the frame is only delimited here;
			// Decode's UnmarshalLimits then refuses duplicate keys.
			if !d.lim.AllowUnsorted && f.hasPrev && bytes.Compare(b[s:s+n], b[f.prevStart:f.prevEnd]) <= 0 {
				return false, pos, syntaxErr(pos, "dictionary key %q is not sorted after %q", b[s:s+n], b[f.prevStart:f.prevEnd])
			}
			if err := d.token(pos); err != nil {
				return false, pos, err
			}
			f.prevStart, f.prevEnd, f.hasPrev, f.wantKey = s, s+n, true, false
			pos = s + n
			continue
		}
		switch {
		case c == 'i':
			_, nx, err := readInt(b, pos)
			if err != nil {
				return false, pos, err
			}
			if err := d.token(pos); err != nil {
				return false, pos, err
			}
			pos = nx
		case isDigit(c):
			n, s, err := readStrHeader(b, pos, d.lim.MaxStringLen)
			if err != nil {
				return false, pos, err
			}
			if n > len(b)-s {
				return false, pos, shortErr(len(b), "string")
			}
			if err := d.token(pos); err != nil {
				return false, pos, err
			}
			pos = s + n
		case c == 'l' || c == 'd':
			if len(d.stack) >= d.lim.MaxDepth {
				return false, pos, limitErr(pos, "nesting depth exceeds the limit of %d", d.lim.MaxDepth)
			}
			if err := d.token(pos); err != nil {
				return false, pos, err
			}
			d.stack = append(d.stack, streamFrame{dict: c == 'd', wantKey: c == 'd'})
			pos++
			continue
		case c == 'e' && top >= 0 && !d.stack[top].dict:
			d.stack = d.stack[:top]
			pos++
		default:
			return false, pos, syntaxErr(pos, "%s, found %s", valueStart, quoteByte(b, pos))
		}
		if len(d.stack) == 0 {
			return true, pos, nil
		}
		d.afterValue()
	}
}

// token counts a complete token (only once: scanning resumes after it).
func (d *Decoder) token(pos int) error {
	d.tokens++
	if d.tokens > d.lim.MaxTokens {
		return limitErr(pos, "more than %d values", d.lim.MaxTokens)
	}
	return nil
}

// afterValue marks that the innermost container received a value.
func (d *Decoder) afterValue() {
	if top := len(d.stack) - 1; top >= 0 && d.stack[top].dict {
		d.stack[top].wantKey = true
	}
}
