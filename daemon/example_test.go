package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/daemon"
)

// A daemon over a client, and one RPC call through the session-id
// handshake, as every Transmission client makes it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "effusion-example-")
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	c, err := client.New(ctx, client.Config{DataDir: dir, ListenAddr: "127.0.0.1:0", Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	d, err := daemon.New(daemon.Config{Client: c, DataDir: dir, DownloadDir: dir, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer d.Shutdown(ctx)
	srv := httptest.NewServer(d.Handler()) // or d.ListenAndServe()
	defer srv.Close()

	call := func(sid string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/transmission/rpc", strings.NewReader(`{"method":"session-get","arguments":{"fields":["rpc-version"]}}`))
		req.Header.Set(daemon.SessionIDHeader, sid)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}
	resp := call("")
	resp.Body.Close()
	fmt.Println(resp.StatusCode) // 409: retry with the id it carries
	resp = call(resp.Header.Get(daemon.SessionIDHeader))
	defer resp.Body.Close()
	var r struct {
		Arguments map[string]any `json:"arguments"`
		Result    string         `json:"result"`
	}
	json.NewDecoder(resp.Body).Decode(&r)
	fmt.Println(r.Result, r.Arguments["rpc-version"])
	// Output:
	// 409
	// success 16
}
