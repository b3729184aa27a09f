package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// harness is a client and a daemon over it, serving on a loopback port.
type harness struct {
	t       testing.TB
	dataDir string
	dlDir   string
	cfg     Config // as given to New (Client set at each start)
	c       *client.Client
	d       *Daemon
	url     string // http://127.0.0.1:PORT
	served  chan error
	hc      *http.Client
	sid     string
}

// newHarness starts a client and a daemon; edit adjusts the daemon's
// configuration.
func newHarness(t testing.TB, edit ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, dataDir: t.TempDir(), dlDir: t.TempDir(), hc: &http.Client{Timeout: 60 * time.Second}}
	h.cfg = Config{DataDir: h.dataDir, DownloadDir: h.dlDir, Listen: "127.0.0.1:0", Logger: testLogger()}
	for _, e := range edit {
		e(&h.cfg)
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	h.t.Helper()
	c, err := client.New(context.Background(), client.Config{
		DataDir: h.dataDir, DownloadDir: h.dlDir, ListenAddr: "127.0.0.1:0", Logger: testLogger(),
		CheckpointInterval: 200 * time.Millisecond,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	cfg := h.cfg
	cfg.Client = c
	d, err := New(cfg)
	if err != nil {
		c.Close()
		h.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	h.c, h.d, h.url, h.sid = c, d, "http://"+ln.Addr().String(), ""
	h.served = make(chan error, 1)
	go func() { h.served <- d.Serve(ln) }()
}

// stop shuts the daemon and the client down, as the command does.
func (h *harness) stop() {
	if h.d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.d.Shutdown(ctx); err != nil {
		h.t.Errorf("daemon shutdown: %v", err)
	}
	// ErrClosed: the test stopped before Serve got going, which is fine.
	if err := <-h.served; err != nil && !errors.Is(err, ErrClosed) {
		h.t.Errorf("serve: %v", err)
	}
	if err := h.c.Shutdown(ctx); err != nil {
		h.t.Errorf("client shutdown: %v", err)
	}
	h.hc.CloseIdleConnections()
	h.d = nil
}

func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

// post sends a raw request to the RPC with the current session id.
func (h *harness) post(body []byte, hdr map[string]string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+"/transmission/rpc", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set(SessionIDHeader, h.sid)
	if h.cfg.User != "" {
		req.SetBasicAuth(h.cfg.User, h.cfg.Password)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp
}

// rpcResult is a decoded response.
type rpcResult struct {
	Result    string         `json:"result"`
	Arguments map[string]any `json:"arguments"`
	Tag       *int64         `json:"tag"`
}

// call makes an RPC call through the handshake and returns the response.
func (h *harness) call(method string, args any) rpcResult {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"method": method, "arguments": args})
	for range 2 {
		resp := h.post(body, nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusConflict {
			h.sid = resp.Header.Get(SessionIDHeader)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			h.t.Fatalf("%s: HTTP %d: %s", method, resp.StatusCode, b)
		}
		var r rpcResult
		if err := json.Unmarshal(b, &r); err != nil {
			h.t.Fatalf("%s: %v: %s", method, err, b)
		}
		return r
	}
	h.t.Fatalf("%s: no session id", method)
	return rpcResult{}
}

// ok makes a call that must succeed and returns its arguments.
func (h *harness) ok(method string, args any) map[string]any {
	h.t.Helper()
	r := h.call(method, args)
	if r.Result != "success" {
		h.t.Fatalf("%s %v: %s", method, args, r.Result)
	}
	return r.Arguments
}

// torrents is torrent-get's list.
func (h *harness) torrents(args map[string]any) []map[string]any {
	h.t.Helper()
	a := h.ok("torrent-get", args)
	var out []map[string]any
	for _, t := range a["torrents"].([]any) {
		out = append(out, t.(map[string]any))
	}
	return out
}

// fixture is a payload on disk and its torrent.
type fixture struct {
	mi   *metainfo.MetaInfo
	raw  []byte // the .torrent
	dir  string // holds the payload under the torrent's name
	path string // the .torrent file
}

// newFixture writes files of the given sizes (several: a directory "payload"
// holding them; one: a file "payload.bin") and builds their torrent.
func newFixture(t testing.TB, pieceLen int64, trackers []string, sizes ...int) fixture {
	t.Helper()
	fx := fixture{dir: t.TempDir()}
	root := filepath.Join(fx.dir, "payload.bin")
	if len(sizes) > 1 {
		root = filepath.Join(fx.dir, "payload")
	}
	for i, n := range sizes {
		b := make([]byte, n)
		rand.Read(b)
		p := root
		if len(sizes) > 1 {
			p = filepath.Join(root, string(rune('a'+i))+".bin")
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := metainfo.BuildOptions{PieceLength: pieceLen}
	for _, tr := range trackers {
		opts.Trackers = append(opts.Trackers, []string{tr})
	}
	mi, raw, err := metainfo.Build(context.Background(), root, opts)
	if err != nil {
		t.Fatal(err)
	}
	fx.mi, fx.raw = mi, raw
	fx.path = filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(fx.path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx fixture) b64() string { return base64.StdEncoding.EncodeToString(fx.raw) }

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// num reads a JSON number.
func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
