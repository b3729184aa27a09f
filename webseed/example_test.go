package webseed_test

import (
	"context"
	"crypto/sha1"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/webseed"
)

// A single-file torrent served by Go's file server (which honours Range):
// every piece is fetched as 16 KiB blocks and verified.
func Example() {
	dir, _ := os.MkdirTemp("", "webseed-example")
	defer os.RemoveAll(dir)
	data := make([]byte, 100<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	os.WriteFile(filepath.Join(dir, "hello.bin"), data, 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()

	mi, _, err := metainfo.Build(context.Background(), filepath.Join(dir, "hello.bin"),
		metainfo.BuildOptions{PieceLength: 32 << 10, WebSeeds: []string{srv.URL + "/"}, NoDate: true})
	if err != nil {
		panic(err)
	}
	ws, err := webseed.New(&mi.Info, mi.URLList[0], webseed.Config{})
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	fmt.Println(ws.FileURL(0) == srv.URL+"/hello.bin")

	good := 0
	for p := range mi.Info.NumPieces() {
		n := mi.Info.PieceLen(p)
		var blocks [][]byte
		for off := int64(0); off < n; off += 16 << 10 {
			blocks = append(blocks, make([]byte, min(16<<10, n-off)))
		}
		if _, err := ws.FetchPieces(context.Background(), p, 1, blocks, nil); err != nil {
			panic(err)
		}
		h := sha1.New()
		for _, b := range blocks {
			h.Write(b)
		}
		if [20]byte(h.Sum(nil)) == mi.Info.Pieces[p] {
			good++
		}
	}
	st := ws.Stats()
	fmt.Println(good, "pieces verified;", st.Bytes, "bytes;", st.State)
	// Output:
	// true
	// 4 pieces verified; 102400 bytes; active
}
