package bencode

import (
	"io"
	"reflect"
	"slices"
	"strconv"
	"sync"
)

// Marshaler is implemented by types that encode themselves. The result must
// be exactly one valid bencode value (it is checked).
type Marshaler interface {
	MarshalBencode() ([]byte, error)
}

// Marshal returns the bencoding of v. Integers (and bools, as 0 or 1) become
// integers; strings, []byte and [N]byte become strings; slices and arrays
// become lists; maps with string keys and structs become dictionaries with
// keys sorted in byte order, as bencode requires. Struct fields follow the
// `bencode:"name,omitempty"` tag ("-" skips a field). Nil pointers and nil
// interfaces in struct fields are omitted (bencode has no null); elsewhere
// they are an *UnsupportedValueError. Floats, complex numbers, channels and
// functions are an *UnsupportedTypeError; nesting deeper than 1000 (a
// cyclic value) is an *UnsupportedValueError.
func Marshal(v any) ([]byte, error) {
	return Append(nil, v)
}

// Append appends the bencoding of v to b (see Marshal).
func Append(b []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return b, &UnsupportedValueError{Str: "nil"}
	}
	return encoderFor(rv.Type())(&encState{}, b, rv)
}

// Encoder writes bencoded values to a stream.
type Encoder struct {
	w   io.Writer
	buf []byte
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer) *Encoder { return &Encoder{w: w} }

// Encode writes the bencoding of v (see Marshal) with one Write call. Nothing
// is written when v cannot be encoded. Not safe for concurrent use.
func (e *Encoder) Encode(v any) error {
	b, err := Append(e.buf[:0], v)
	if err != nil {
		return err
	}
	e.buf = b
	_, err = e.w.Write(b)
	return err
}

// encState carries the nesting depth, so that a cyclic value fails instead
// of recursing until the stack is exhausted.
type encState struct{ depth int }

// maxEncodeDepth bounds list and dictionary nesting in Marshal.
const maxEncodeDepth = 1000

func (e *encState) enter(v reflect.Value) error {
	e.depth++
	if e.depth > maxEncodeDepth {
		return &UnsupportedValueError{Value: v, Str: "nesting deeper than 1000 (a cycle?)"}
	}
	return nil
}

type encFunc func(e *encState, b []byte, v reflect.Value) ([]byte, error)

var (
	encCache      sync.Map // reflect.Type -> encFunc
	marshalerType = reflect.TypeFor[Marshaler]()
)

func encoderFor(t reflect.Type) encFunc {
	if f, ok := encCache.Load(t); ok {
		return f.(encFunc)
	}
	var (
		wg sync.WaitGroup
		f  encFunc
	)
	wg.Add(1)
	fi, loaded := encCache.LoadOrStore(t, encFunc(func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
		wg.Wait()
		return f(e, b, v)
	}))
	if loaded {
		return fi.(encFunc)
	}
	f = newEncoder(t)
	wg.Done()
	encCache.Store(t, f)
	return f
}

func newEncoder(t reflect.Type) encFunc {
	if t.Implements(marshalerType) {
		return encodeMarshaler
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(marshalerType) {
		return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
			if v.CanAddr() {
				return encodeMarshaler(e, b, v.Addr())
			}
			// Not addressable: copy so the pointer method can be called.
			p := reflect.New(t)
			p.Elem().Set(v)
			return encodeMarshaler(e, b, p)
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
			if v.Bool() {
				return append(b, "i1e"...), nil
			}
			return append(b, "i0e"...), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
			b = append(b, 'i')
			b = strconv.AppendInt(b, v.Int(), 10)
			return append(b, 'e'), nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
			u := v.Uint()
			if u > 1<<63-1 {
				return b, &UnsupportedValueError{Value: v, Str: "integer " + strconv.FormatUint(u, 10) + " does not fit in int64"}
			}
			b = append(b, 'i')
			b = strconv.AppendUint(b, u, 10)
			return append(b, 'e'), nil
		}
	case reflect.String:
		return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
			return appendString(b, v.String()), nil
		}
	case reflect.Pointer, reflect.Interface:
		return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return b, &UnsupportedValueError{Value: v, Str: "nil " + v.Type().String()}
			}
			ev := v.Elem()
			return encoderFor(ev.Type())(e, b, ev)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !t.Elem().Implements(marshalerType) && !reflect.PointerTo(t.Elem()).Implements(marshalerType) {
			return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
				return appendBytes(b, v.Bytes()), nil
			}
		}
		return newListEncoder(t)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && !t.Elem().Implements(marshalerType) && !reflect.PointerTo(t.Elem()).Implements(marshalerType) {
			return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
				b = strconv.AppendInt(b, int64(v.Len()), 10)
				b = append(b, ':')
				for i := 0; i < v.Len(); i++ {
					b = append(b, byte(v.Index(i).Uint()))
				}
				return b, nil
			}
		}
		return newListEncoder(t)
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			return newMapEncoder(t)
		}
	case reflect.Struct:
		return newStructEncoder(t)
	}
	return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
		return b, &UnsupportedTypeError{Type: t}
	}
}

func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendBytes(b []byte, s []byte) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func encodeMarshaler(_ *encState, b []byte, v reflect.Value) ([]byte, error) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return b, &UnsupportedValueError{Value: v, Str: "nil " + v.Type().String()}
	}
	m := v.Interface().(Marshaler)
	out, err := m.MarshalBencode()
	if err != nil {
		return b, &MarshalerError{Type: v.Type(), Err: err}
	}
	if !Valid(out) {
		return b, &UnsupportedValueError{Value: v, Str: "MarshalBencode of " + v.Type().String() + " returned invalid bencode"}
	}
	return append(b, out...), nil
}

func newListEncoder(t reflect.Type) encFunc {
	elem := t.Elem()
	return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
		if err := e.enter(v); err != nil {
			return b, err
		}
		defer func() { e.depth-- }()
		enc := encoderFor(elem)
		b = append(b, 'l')
		var err error
		for i := 0; i < v.Len(); i++ {
			if b, err = enc(e, b, v.Index(i)); err != nil {
				return b, err
			}
		}
		return append(b, 'e'), nil
	}
}

func newMapEncoder(t reflect.Type) encFunc {
	elem := t.Elem()
	return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
		if err := e.enter(v); err != nil {
			return b, err
		}
		defer func() { e.depth-- }()
		enc := encoderFor(elem)
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			x, y := a.String(), b.String()
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
		b = append(b, 'd')
		var err error
		for _, k := range keys {
			b = appendString(b, k.String())
			if b, err = enc(e, b, v.MapIndex(k)); err != nil {
				return b, err
			}
		}
		return append(b, 'e'), nil
	}
}

// isEmptyValue is encoding/json's omitempty test.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

func newStructEncoder(t reflect.Type) encFunc {
	si := cachedStructInfo(t)
	return func(e *encState, b []byte, v reflect.Value) ([]byte, error) {
		if err := e.enter(v); err != nil {
			return b, err
		}
		defer func() { e.depth-- }()
		b = append(b, 'd')
		var err error
		for i := range si.fields {
			f := &si.fields[i]
			fv, ok := fieldByIndexNoAlloc(v, f.index)
			if !ok {
				continue
			}
			if (f.omitEmpty && isEmptyValue(fv)) || ((fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Interface) && fv.IsNil()) {
				continue
			}
			b = appendString(b, f.name)
			if b, err = encoderFor(f.typ)(e, b, fv); err != nil {
				return b, err
			}
		}
		return append(b, 'e'), nil
	}
}
