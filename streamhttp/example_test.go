package streamhttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/streamhttp"
)

// Example serves a client's torrents over HTTP and asks for a range of a
// file, as a video player does when it seeks.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "stream")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "clip.webm"), []byte("0123456789abcdef"), 0o644)
	mi, _, err := metainfo.Build(ctx, filepath.Join(dir, "clip.webm"), metainfo.BuildOptions{})
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(ctx, client.Config{DataDir: filepath.Join(dir, "state"), ListenAddr: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Shutdown(ctx)
	if _, err := c.Add(ctx, client.Spec{Torrent: mi, Dir: dir}); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle(streamhttp.Prefix, streamhttp.Handler(c)) // behind the front end's authentication
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest("GET", srv.URL+streamhttp.Path(mi.InfoHash, 0, "clip.webm"), nil)
	req.Header.Set("Range", "bytes=10-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Range"), string(body))
	// Output: 206 Partial Content video/webm bytes 10-15/16 abcdef
}
