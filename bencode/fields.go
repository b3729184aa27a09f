package bencode

import (
	"reflect"
	"sort"
	"strings"
	"sync"
)

// field is one dictionary key of a struct type, after tag parsing and the
// promotion of embedded struct fields.
type field struct {
	name      string
	index     []int
	typ       reflect.Type
	omitEmpty bool
}

// structInfo lists a struct's keys sorted as bencode requires (byte order),
// with a map for decoding.
type structInfo struct {
	fields []field // sorted by name
	byName map[string]*field
}

var structCache sync.Map // reflect.Type -> *structInfo

func cachedStructInfo(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si, _ := structCache.LoadOrStore(t, buildStructInfo(t))
	return si.(*structInfo)
}

// parseTag splits `bencode:"name,omitempty"`.
func parseTag(tag string) (name string, omitEmpty bool) {
	name, opts, _ := strings.Cut(tag, ",")
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == "omitempty" {
			omitEmpty = true
		}
	}
	return name, omitEmpty
}

// buildStructInfo follows encoding/json's rules in simplified form: a field
// tagged "-" is skipped; unexported non-embedded fields are skipped; an
// untagged embedded struct (or pointer to struct) has its fields promoted;
// when names collide the shallower field wins, and among equally deep ones a
// tagged field wins; otherwise all of them are dropped.
func buildStructInfo(t reflect.Type) *structInfo {
	type cand struct {
		field
		depth  int
		tagged bool
	}
	var cands []cand
	var walk func(t reflect.Type, index []int, depth int, visited map[reflect.Type]bool)
	walk = func(t reflect.Type, index []int, depth int, visited map[reflect.Type]bool) {
		if visited[t] {
			return
		}
		visited[t] = true
		defer delete(visited, t)
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("bencode")
			if tag == "-" {
				continue
			}
			name, omit := parseTag(tag)
			idx := append(append([]int(nil), index...), i)
			if sf.Anonymous && name == "" {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					if !sf.IsExported() && sf.Type.Kind() == reflect.Pointer {
						continue // cannot allocate through an unexported pointer
					}
					walk(ft, idx, depth+1, visited)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if name == "" {
				name = sf.Name
			}
			cands = append(cands, cand{field{name, idx, sf.Type, omit}, depth, tagged})
		}
	}
	walk(t, nil, 0, map[reflect.Type]bool{})

	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].name != cands[j].name {
			return cands[i].name < cands[j].name
		}
		if cands[i].depth != cands[j].depth {
			return cands[i].depth < cands[j].depth
		}
		return cands[i].tagged && !cands[j].tagged
	})
	si := &structInfo{byName: map[string]*field{}}
	for i := 0; i < len(cands); {
		j := i + 1
		for j < len(cands) && cands[j].name == cands[i].name {
			j++
		}
		// cands[i] dominates if it is alone, or strictly better than the next.
		if j == i+1 || cands[i].depth < cands[i+1].depth || (cands[i].tagged && !cands[i+1].tagged) {
			si.fields = append(si.fields, cands[i].field)
		}
		i = j
	}
	for i := range si.fields {
		si.byName[si.fields[i].name] = &si.fields[i]
	}
	return si
}

// fieldByIndex returns the field of struct v at index, allocating nil
// embedded pointers on the way (decoding).
func fieldByIndexAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// fieldByIndexNoAlloc returns the field, or ok=false when a nil embedded
// pointer is on the way (encoding: the field is absent).
func fieldByIndexNoAlloc(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}
