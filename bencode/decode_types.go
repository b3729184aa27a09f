package bencode

import (
	"reflect"
	"strconv"
	"sync"
)

// decFunc decodes the value at d.off into v, which is settable and of the
// type the function was built for.
type decFunc func(d *decodeState, v reflect.Value) error

var decCache sync.Map // reflect.Type -> decFunc

var (
	unmarshalerType = reflect.TypeFor[Unmarshaler]()
	rawMessageType  = reflect.TypeFor[RawMessage]()
)

// decoderFor returns the cached decoder for t. Recursive types get a
// placeholder that waits for the real function (as encoding/json does).
func decoderFor(t reflect.Type) decFunc {
	if f, ok := decCache.Load(t); ok {
		return f.(decFunc)
	}
	var (
		wg sync.WaitGroup
		f  decFunc
	)
	wg.Add(1)
	fi, loaded := decCache.LoadOrStore(t, decFunc(func(d *decodeState, v reflect.Value) error {
		wg.Wait()
		return f(d, v)
	}))
	if loaded {
		return fi.(decFunc)
	}
	f = newDecoder(t)
	wg.Done()
	decCache.Store(t, f)
	return f
}

func newDecoder(t reflect.Type) decFunc {
	if t == rawMessageType {
		return decodeRaw
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(unmarshalerType) {
		return decodeUnmarshaler
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := t.Elem()
		return func(d *decodeState, v reflect.Value) error {
			if v.IsNil() {
				v.Set(reflect.New(elem))
			}
			return decoderFor(elem)(d, v.Elem())
		}
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return func(d *decodeState, v reflect.Value) error { return d.typeErr(t) }
		}
		return func(d *decodeState, v reflect.Value) error {
			g, err := d.generic()
			if err != nil {
				return err
			}
			v.Set(reflect.ValueOf(g))
			return nil
		}
	case reflect.Bool:
		return decodeBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return decodeInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return decodeUint
	case reflect.String:
		return decodeString
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(unmarshalerType) {
			return decodeBytes
		}
		return newSliceDecoder(t)
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(unmarshalerType) {
			return decodeByteArray
		}
		return newArrayDecoder(t)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return func(d *decodeState, v reflect.Value) error { return d.typeErr(t) }
		}
		return newMapDecoder(t)
	case reflect.Struct:
		return newStructDecoder(t)
	}
	return func(d *decodeState, v reflect.Value) error { return d.typeErr(t) }
}

func decodeRaw(d *decodeState, v reflect.Value) error {
	start := d.off
	if err := d.skip(); err != nil {
		return err
	}
	v.SetBytes(append([]byte(nil), d.data[start:d.off]...))
	return nil
}

func decodeUnmarshaler(d *decodeState, v reflect.Value) error {
	start := d.off
	if err := d.skip(); err != nil {
		return err
	}
	u := v.Addr().Interface().(Unmarshaler)
	if err := u.UnmarshalBencode(d.data[start:d.off]); err != nil {
		return &MarshalerError{Type: v.Type(), Err: err}
	}
	return nil
}

func decodeBool(d *decodeState, v reflect.Value) error {
	if c, err := d.peek(); err != nil {
		return err
	} else if c != 'i' {
		return d.typeErr(v.Type())
	}
	at := d.off
	n, err := d.int()
	if err != nil {
		return err
	}
	if n != 0 && n != 1 {
		return &UnmarshalTypeError{Value: "integer " + strconv.FormatInt(n, 10), Type: v.Type(), Offset: int64(at)}
	}
	v.SetBool(n == 1)
	return nil
}

func decodeInt(d *decodeState, v reflect.Value) error {
	if c, err := d.peek(); err != nil {
		return err
	} else if c != 'i' {
		return d.typeErr(v.Type())
	}
	at := d.off
	n, err := d.int()
	if err != nil {
		return err
	}
	if v.OverflowInt(n) {
		return &UnmarshalTypeError{Value: "integer " + strconv.FormatInt(n, 10), Type: v.Type(), Offset: int64(at)}
	}
	v.SetInt(n)
	return nil
}

func decodeUint(d *decodeState, v reflect.Value) error {
	if c, err := d.peek(); err != nil {
		return err
	} else if c != 'i' {
		return d.typeErr(v.Type())
	}
	at := d.off
	n, err := d.int()
	if err != nil {
		return err
	}
	if n < 0 || v.OverflowUint(uint64(n)) {
		return &UnmarshalTypeError{Value: "integer " + strconv.FormatInt(n, 10), Type: v.Type(), Offset: int64(at)}
	}
	v.SetUint(uint64(n))
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func decodeString(d *decodeState, v reflect.Value) error {
	if c, err := d.peek(); err != nil {
		return err
	} else if !isDigit(c) {
		return d.typeErr(v.Type())
	}
	s, err := d.str()
	if err != nil {
		return err
	}
	v.SetString(string(s))
	return nil
}

func decodeBytes(d *decodeState, v reflect.Value) error {
	if c, err := d.peek(); err != nil {
		return err
	} else if !isDigit(c) {
		return d.typeErr(v.Type())
	}
	s, err := d.str()
	if err != nil {
		return err
	}
	v.SetBytes(append([]byte{}, s...))
	return nil
}

func decodeByteArray(d *decodeState, v reflect.Value) error {
	if c, err := d.peek(); err != nil {
		return err
	} else if !isDigit(c) {
		return d.typeErr(v.Type())
	}
	at := d.off
	s, err := d.str()
	if err != nil {
		return err
	}
	if len(s) != v.Len() {
		return &UnmarshalTypeError{Value: "string of length " + itoa(len(s)), Type: v.Type(), Offset: int64(at)}
	}
	reflect.Copy(v, reflect.ValueOf(s))
	return nil
}

func newSliceDecoder(t reflect.Type) decFunc {
	elem := t.Elem()
	return func(d *decodeState, v reflect.Value) error {
		if c, err := d.peek(); err != nil {
			return err
		} else if c != 'l' {
			return d.typeErr(t)
		}
		if err := d.enter(); err != nil {
			return err
		}
		d.off++
		dec := decoderFor(elem)
		n := 0
		if v.IsNil() {
			v.Set(reflect.MakeSlice(t, 0, 0))
		}
		for {
			more, err := d.more()
			if err != nil {
				return err
			}
			if !more {
				v.SetLen(n)
				return nil
			}
			if n >= v.Cap() {
				nv := reflect.MakeSlice(t, n+1, max(4, 2*v.Cap()))
				reflect.Copy(nv, v)
				v.Set(nv)
			}
			v.SetLen(n + 1)
			ev := v.Index(n)
			ev.SetZero()
			if err := dec(d, ev); err != nil {
				return prependField(err, "", n)
			}
			n++
		}
	}
}

func newArrayDecoder(t reflect.Type) decFunc {
	elem := t.Elem()
	return func(d *decodeState, v reflect.Value) error {
		if c, err := d.peek(); err != nil {
			return err
		} else if c != 'l' {
			return d.typeErr(t)
		}
		at := d.off
		if err := d.enter(); err != nil {
			return err
		}
		d.off++
		dec := decoderFor(elem)
		for n := 0; ; n++ {
			c, err := d.peek()
			if err != nil {
				return err
			}
			if c == 'e' {
				if n != v.Len() {
					return &UnmarshalTypeError{Value: "list of length " + itoa(n), Type: t, Offset: int64(at)}
				}
				d.off++
				d.depth--
				return nil
			}
			if n >= v.Len() {
				return &UnmarshalTypeError{Value: "list longer than " + itoa(v.Len()), Type: t, Offset: int64(at)}
			}
			if err := dec(d, v.Index(n)); err != nil {
				return prependField(err, "", n)
			}
		}
	}
}

func newMapDecoder(t reflect.Type) decFunc {
	elem := t.Elem()
	keyType := t.Key()
	return func(d *decodeState, v reflect.Value) error {
		if c, err := d.peek(); err != nil {
			return err
		} else if c != 'd' {
			return d.typeErr(t)
		}
		if err := d.enter(); err != nil {
			return err
		}
		d.off++
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		dec := decoderFor(elem)
		ks := newDictKeys()
		for {
			more, err := d.more()
			if err != nil {
				return err
			}
			if !more {
				return nil
			}
			k, err := d.key(&ks)
			if err != nil {
				return err
			}
			ev := reflect.New(elem).Elem()
			if err := dec(d, ev); err != nil {
				return prependField(err, string(k), -1)
			}
			v.SetMapIndex(reflect.ValueOf(string(k)).Convert(keyType), ev)
		}
	}
}

func newStructDecoder(t reflect.Type) decFunc {
	si := cachedStructInfo(t)
	return func(d *decodeState, v reflect.Value) error {
		if c, err := d.peek(); err != nil {
			return err
		} else if c != 'd' {
			return d.typeErr(t)
		}
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
			k, err := d.key(&ks)
			if err != nil {
				return err
			}
			f := si.byName[string(k)]
			if f == nil {
				if err := d.skip(); err != nil {
					return err
				}
				continue
			}
			fv := fieldByIndexAlloc(v, f.index)
			if err := decoderFor(f.typ)(d, fv); err != nil {
				return prependField(err, f.name, -1)
			}
		}
	}
}
