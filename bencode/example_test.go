package bencode_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/effusion-bt/effusion/bencode"
)

func ExampleUnmarshal() {
	var resp struct {
		Interval int64  `bencode:"interval"`
		Peers    []byte `bencode:"peers"`
		Warning  string `bencode:"warning message,omitempty"`
	}
	err := bencode.Unmarshal([]byte("d8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"), &resp)
	fmt.Println(resp.Interval, len(resp.Peers), err)
	// Output: 1800 6 <nil>
}

func ExampleUnmarshal_strict() {
	var v any
	err := bencode.Unmarshal([]byte("d1:bi1e1:ai2ee"), &v)
	var se *bencode.SyntaxError
	fmt.Println(errors.As(err, &se), se.Offset)
	fmt.Println(err)
	// Output:
	// true 7
	// bencode: syntax error at offset 7: dictionary key "a" is not sorted after "b"
}

func ExampleMarshal() {
	b, _ := bencode.Marshal(map[string]any{"spam": []any{"a", int64(1)}, "cow": "moo"})
	fmt.Printf("%s\n", b)
	// Output: d3:cow3:moo4:spaml1:ai1eee
}

func ExampleRawMessage() {
	var t struct {
		Info bencode.RawMessage `bencode:"info"`
	}
	_ = bencode.Unmarshal([]byte("d4:infod4:name1:xee"), &t)
	fmt.Printf("%s\n", t.Info) // hash these bytes, exactly as given
	// Output: d4:name1:xe
}

func ExampleDecoder() {
	d := bencode.NewDecoder(strings.NewReader("i1e4:spamli2ee"))
	for {
		var v any
		if err := d.Decode(&v); err != nil {
			break
		}
		fmt.Printf("%#v\n", v)
	}
	// Output:
	// 1
	// "spam"
	// []interface {}{2}
}
