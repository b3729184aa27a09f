package metainfo_test

import (
	"errors"
	"fmt"

	"github.com/effusion-bt/effusion/metainfo"
)

func ExampleLoad() {
	m, err := metainfo.Load("testdata/mk-single.torrent")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.InfoHashHex(), m.Info.Name, m.Info.TotalLength(), m.Info.NumPieces(), m.Info.Private)
	fmt.Println(m.Trackers())
	// Output:
	// 6e90cd8701542a9fedf4bfea57817ab23817e65c single.bin 70000 3 true
	// [[http://127.0.0.1:6969/announce http://127.0.0.1:6970/announce] [udp://127.0.0.1:6969]]
}

func ExampleParse_error() {
	_, err := metainfo.Parse([]byte("d4:infod6:lengthi1e4:name1:f12:piece lengthi16384e6:pieces39:012345678901234567890123456789012345678ee"))
	var fe *metainfo.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field)
	fmt.Println(err)
	// Output:
	// true info.pieces
	// info.pieces: length 39 is not a multiple of 20
}

func ExampleSafeJoin() {
	_, err := metainfo.SafeJoin("/downloads", []string{"..", "etc", "passwd"})
	fmt.Println(errors.Is(err, metainfo.ErrUnsafePath))
	// Output: true
}

func ExampleParseMagnet() {
	m, err := metainfo.ParseMagnet("magnet:?xt=urn:btih:FL3DHRQY4ZGJ5I4XE6E7K5SPX2TPILKA&dn=hello&tr=udp://t:80")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%x %s %v\n", m.InfoHash, m.Name, m.Trackers)
	fmt.Println(m)
	// Output:
	// 2af633c618e64c9ea3972789f5764fbea6f42d40 hello [udp://t:80]
	// magnet:?xt=urn:btih:2af633c618e64c9ea3972789f5764fbea6f42d40&dn=hello&tr=udp%3A%2F%2Ft%3A80
}
