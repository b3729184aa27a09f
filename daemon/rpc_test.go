package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
)

// listFields are what `transmission-remote -l` asks for.
var listFields = []string{"error", "errorString", "eta", "id", "isFinished", "leftUntilDone", "name",
	"peersGettingFromUs", "peersSendingToUs", "rateDownload", "rateUpload", "sizeWhenDone", "status", "uploadRatio"}

// The handshake: 409 with the id, then the same request with it works;
// the tag comes back.
func TestRPC_SessionIDHandshake(t *testing.T) {
	h := newHarness(t)
	body := []byte(`{"method":"session-get","tag":7}`)
	resp := h.post(body, nil)
	resp.Body.Close()
	sid := resp.Header.Get(SessionIDHeader)
	if resp.StatusCode != http.StatusConflict || sid == "" || sid != h.d.SessionID() {
		t.Fatalf("first request: %d, id %q", resp.StatusCode, sid)
	}
	h.sid = sid
	resp = h.post(body, nil)
	var r rpcResult
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	if resp.StatusCode != 200 || r.Result != "success" || r.Tag == nil || *r.Tag != 7 {
		t.Fatalf("with the id: %d %+v", resp.StatusCode, r)
	}
	a := r.Arguments
	if num(a["rpc-version"]) != 16 || a["download-dir"] != h.dlDir || a["version"] == "" || num(a["peer-port"]) != int64(h.c.Addr().Port()) {
		t.Fatalf("session-get: %v", a)
	}
	// The trailing slash transmission-remote uses, and the snake_case
	// method name of newer clients.
	req, _ := http.NewRequest("POST", h.url+"/transmission/rpc/", strings.NewReader(`{"method":"session_get","arguments":{"fields":["rpc_version"]}}`))
	req.Header.Set(SessionIDHeader, sid)
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"arguments":{"rpc-version":16},"result":"success"}` {
		t.Fatalf("trailing slash, snake_case: %d %s", resp.StatusCode, b)
	}
}

// Add, list, stop, start, duplicate, remove keeping data: the life of a
// torrent through the RPC, with every form of "ids".
func TestRPC_TorrentLifecycle(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 32<<10, nil, 300_000)
	a := h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir})
	added := a["torrent-added"].(map[string]any)
	if num(added["id"]) != 1 || added["name"] != "payload.bin" || added["hashString"] != fx.mi.InfoHashHex() {
		t.Fatalf("torrent-added %v", added)
	}
	a = h.ok("torrent-add", map[string]any{"filename": fx.path})
	if dup := a["torrent-duplicate"].(map[string]any); num(dup["id"]) != 1 {
		t.Fatalf("torrent-duplicate %v", a)
	}
	seeding := func() bool {
		ts := h.torrents(map[string]any{"ids": 1, "fields": []string{"status"}})
		return len(ts) == 1 && num(ts[0]["status"]) == trSeed
	}
	waitFor(t, 10*time.Second, "seeding", seeding)
	for _, ids := range []any{nil, 1, []any{1}, fx.mi.InfoHashHex(), []any{fx.mi.InfoHashHex(), 1}, "recently-active"} {
		args := map[string]any{"fields": listFields}
		if ids != nil {
			args["ids"] = ids
		}
		ts := h.torrents(args)
		if len(ts) != 1 {
			t.Fatalf("ids %v: %d torrents", ids, len(ts))
		}
		tt := ts[0]
		if len(tt) != len(listFields) || tt["name"] != "payload.bin" || num(tt["leftUntilDone"]) != 0 ||
			num(tt["sizeWhenDone"]) != 300_000 || num(tt["eta"]) != etaNotAvailable || num(tt["error"]) != 0 {
			t.Fatalf("ids %v: %v", ids, tt)
		}
	}
	if ts := h.torrents(map[string]any{"ids": []any{2, strings.Repeat("ab", 20)}, "fields": []string{"id"}}); len(ts) != 0 {
		t.Fatalf("unknown ids matched %v", ts)
	}
	h.ok("torrent-stop", map[string]any{"ids": []any{1}})
	if ts := h.torrents(map[string]any{"fields": []string{"status", "startDate"}}); num(ts[0]["status"]) != trStopped || num(ts[0]["startDate"]) != 0 {
		t.Fatalf("after torrent-stop: %v", ts[0])
	}
	h.ok("torrent-start", map[string]any{"ids": fx.mi.InfoHashHex()})
	waitFor(t, 10*time.Second, "seeding again", seeding)
	h.ok("torrent-remove", map[string]any{"ids": 1, "delete-local-data": false})
	if ts := h.torrents(map[string]any{"fields": []string{"id"}}); len(ts) != 0 {
		t.Fatalf("after remove: %v", ts)
	}
	ra := h.ok("torrent-get", map[string]any{"ids": "recently-active", "fields": []string{"id"}})
	if removed := ra["removed"].([]any); len(removed) != 1 || num(removed[0]) != 1 {
		t.Fatalf("recently removed: %v", ra)
	}
	if _, err := os.Stat(filepath.Join(fx.dir, "payload.bin")); err != nil {
		t.Fatalf("data deleted without delete-local-data: %v", err)
	}
	// Added again it gets a new id; removed with its data, the data goes.
	a = h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir, "paused": true})
	if num(a["torrent-added"].(map[string]any)["id"]) != 2 {
		t.Fatalf("re-added: %v", a)
	}
	h.ok("torrent-remove", map[string]any{"ids": []any{2}, "delete-local-data": 1}) // a number, as old clients send
	if _, err := os.Stat(filepath.Join(fx.dir, "payload.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data kept with delete-local-data: %v", err)
	}
}

// torrent-get answers every field it knows, as valid JSON, for a running
// and a paused torrent.
func TestRPC_EveryField(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 16<<10, []string{"http://127.0.0.1:1/announce"}, 40_000, 70_000)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir})
	fx2 := newFixture(t, 16<<10, nil, 50_000)
	h.ok("torrent-add", map[string]any{"metainfo": fx2.b64(), "paused": true})
	// A magnet nobody has: it stays in its metadata phase.
	h.ok("torrent-add", map[string]any{"filename": "magnet:?xt=urn:btih:" + strings.Repeat("5a", 20) + "&dn=nobody"})
	var names []string
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	ts := h.torrents(map[string]any{"fields": names})
	if len(ts) != 3 {
		t.Fatalf("%d torrents", len(ts))
	}
	for _, tt := range ts {
		for _, n := range names {
			if _, ok := tt[n]; !ok {
				t.Errorf("torrent %v: field %s missing", tt["id"], n)
			}
		}
	}
	mg := ts[2]
	if mg["name"] != "nobody" || num(mg["status"]) != trDownload || mg["percent_done"] != 0.0 || mg["metadata_percent_complete"] != 0.0 ||
		num(mg["eta"]) != etaUnknown || len(mg["files"].([]any)) != 0 || num(mg["piece_count"]) != 0 {
		t.Fatalf("a magnet without metadata: %v", mg)
	}
	first := ts[0]
	files := first["files"].([]any)
	if len(files) != 2 || files[0].(map[string]any)["name"] != "payload/a.bin" {
		t.Fatalf("files %v", files)
	}
	trs := first["trackers"].([]any)
	if len(trs) != 1 || trs[0].(map[string]any)["scrape"] != "http://127.0.0.1:1/scrape" {
		t.Fatalf("trackers %v", trs)
	}
	if got := ts[1]["download_dir"]; got != h.dlDir {
		t.Fatalf("paused torrent's downloadDir %v, want the session's %s", got, h.dlDir)
	}
	// The table format: a row of names, then a row per torrent.
	a := h.ok("torrent-get", map[string]any{"fields": []string{"id", "name", "nonsense"}, "format": "table"})
	tbl := a["torrents"].([]any)
	if len(tbl) != 4 || len(tbl[0].([]any)) != 2 || tbl[1].([]any)[1] != "payload" {
		t.Fatalf("table %v", tbl)
	}
}

// torrent-set's file choices reach the client, and torrent-add's too.
func TestRPC_FileChoices(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 40_000, 70_000, 30_000)
	a := h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "paused": true, "files-unwanted": []int{1}, "priority-high": []int{2}})
	id := num(a["torrent-added"].(map[string]any)["id"])
	get := func() (wanted, prios []int64) {
		tt := h.torrents(map[string]any{"ids": id, "fields": []string{"wanted", "priorities", "fileStats"}})[0]
		for i, w := range tt["wanted"].([]any) {
			wanted = append(wanted, num(w))
			prios = append(prios, num(tt["priorities"].([]any)[i]))
		}
		return
	}
	if w, p := get(); !slices.Equal(w, []int64{1, 0, 1}) || !slices.Equal(p, []int64{0, 0, 1}) {
		t.Fatalf("after add: wanted %v priorities %v", w, p)
	}
	h.ok("torrent-set", map[string]any{"ids": []any{id}, "files-wanted": []int{1}, "files-unwanted": []int{0}, "priority-normal": []int{2}})
	if w, p := get(); !slices.Equal(w, []int64{0, 1, 1}) || !slices.Equal(p, []int64{0, 0, 0}) {
		t.Fatalf("after torrent-set: wanted %v priorities %v", w, p)
	}
	ent := h.d.reg.byIDs(int(id))
	if f := ent.t.Files(); f[0].Priority != client.Skip || f[1].Priority != client.Normal {
		t.Fatalf("client files %+v", f)
	}
	r := h.call("torrent-set", map[string]any{"ids": id, "files-wanted": []int{3}})
	if !strings.Contains(r.Result, "file 3 does not exist") {
		t.Fatalf("bad index: %q", r.Result)
	}
	h.ok("torrent-set", map[string]any{"ids": id, "files-unwanted": []int{}}) // empty: every file
	if w, _ := get(); !slices.Equal(w, []int64{0, 0, 0}) {
		t.Fatalf("files-unwanted []: %v", w)
	}
}

// Session and torrent settings: limits reach the client and survive a
// restart.
func TestRPC_SettingsSurviveRestart(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 40_000)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir})
	h.ok("session-set", map[string]any{"speed-limit-down": 250, "speed-limit-down-enabled": true, "alt-speed-up": 7, "encryption": "required"})
	h.ok("torrent-set", map[string]any{"ids": 1, "downloadLimit": 100, "downloadLimited": true, "labels": []string{"linux"}})
	if d, u := h.d.reg.byIDs(1).t.RateLimits(); d != 100_000 || u != 0 {
		t.Fatalf("torrent limits %d %d", d, u)
	}
	if r := h.call("session-set", map[string]any{"download-dir": "relative/dir"}); !strings.Contains(r.Result, "not absolute") {
		t.Fatalf("relative download-dir: %q", r.Result)
	}
	if r := h.call("session-set", map[string]any{"speed-limit-up": "fast"}); !strings.Contains(r.Result, "speed-limit-up") {
		t.Fatalf("bad type: %q", r.Result)
	}
	h.restart()
	s := h.ok("session-get", nil)
	if num(s["speed-limit-down"]) != 250 || s["speed-limit-down-enabled"] != true || num(s["alt-speed-up"]) != 7 || s["encryption"] != "required" {
		t.Fatalf("after restart: %v", s)
	}
	tt := h.torrents(map[string]any{"fields": []string{"downloadLimit", "downloadLimited", "labels"}})[0]
	if num(tt["downloadLimit"]) != 100 || tt["downloadLimited"] != true || tt["labels"].([]any)[0] != "linux" {
		t.Fatalf("torrent settings after restart: %v", tt)
	}
	if d, _ := h.d.reg.byIDs(1).t.RateLimits(); d != 100_000 {
		t.Fatalf("torrent limit not applied after restart: %d", d)
	}
	st := h.ok("session-stats", nil)
	if cum := st["cumulative-stats"].(map[string]any); num(cum["sessionCount"]) != 2 || num(cum["filesAdded"]) != 1 {
		t.Fatalf("cumulative stats %v", cum)
	}
}

// torrent-verify hashes every piece again, in the background.
func TestRPC_Verify(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 100_000)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir})
	e := h.d.reg.byIDs(1)
	waitFor(t, 10*time.Second, "seeding", func() bool { return e.t.Stats().State == client.Seeding })
	h.ok("torrent-verify", map[string]any{"ids": 1})
	waitFor(t, 10*time.Second, "the verify", func() bool { return !e.verifying.Load() })
	if n := e.t.PiecesChecked(); n != fx.mi.Info.NumPieces() || e.t.Stats().State != client.Seeding {
		t.Fatalf("verify hashed %d of %d pieces; %v", n, fx.mi.Info.NumPieces(), e.t.Stats().State)
	}
}

// Bad requests get a "result" naming the problem, never a 500.
func TestRPC_BadRequests(t *testing.T) {
	h := newHarness(t)
	h.call("session-get", nil) // the session id
	cases := []struct{ body, want string }{
		{`not json`, "not a JSON object"},
		{`{"method":"torrent-explode"}`, "method name not recognized"},
		{`{"method":"torrent-get","arguments":[1]}`, "must be an object"},
		{`{"method":"torrent-get","arguments":{}}`, `needs "fields"`},
		{`{"method":"torrent-get","arguments":{"fields":"id"}}`, `"fields"`},
		{`{"method":"torrent-get","arguments":{"fields":["id"],"ids":{"a":1}}}`, `"ids"`},
		{`{"method":"torrent-get","arguments":{"fields":["id"],"ids":"zz"}}`, "hash string"},
		{`{"method":"torrent-add","arguments":{}}`, `needs "metainfo" or "filename"`},
		{`{"method":"torrent-add","arguments":{"metainfo":"!!!"}}`, "not base64"},
		{`{"method":"torrent-add","arguments":{"metainfo":"aGVsbG8="}}`, "invalid or corrupt torrent file"},
		{`{"method":"torrent-add","arguments":{"filename":"magnet:?xt=urn:btih:0123"}}`, "invalid magnet link"},
		{`{"method":"torrent-add","arguments":{"filename":"ftp://x/y.torrent"}}`, "only magnet links"},
		{`{"method":"torrent-remove","arguments":{"delete-local-data":"yes"}}`, "true or false"},
		{`{"method":"torrent-set","arguments":{"location":"/x"}}`, "not supported yet"},
		{`{"method":"free-space","arguments":{"path":"rel"}}`, "absolute"},
		{`{"method":"session-close"}`, "cannot be shut down remotely"},
	}
	for _, c := range cases {
		resp := h.post([]byte(c.body), nil)
		var r rpcResult
		err := json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || r.Result == "success" || !strings.Contains(r.Result, c.want) {
			t.Errorf("%s: HTTP %d, result %q (%v); want one containing %q", c.body, resp.StatusCode, r.Result, err, c.want)
		}
	}
	a := h.ok("free-space", map[string]any{"path": h.dlDir})
	if num(a["size-bytes"]) <= 0 {
		t.Errorf("free-space %v", a)
	}
	if a := h.ok("port-test", nil); a["port-is-open"] != false {
		t.Errorf("port-test %v", a)
	}
	// GET with the id: not the RPC's method.
	req, _ := http.NewRequest("GET", h.url+"/transmission/rpc", nil)
	req.Header.Set(SessionIDHeader, h.sid)
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

// session-close asks the owner to stop.
func TestRPC_SessionClose(t *testing.T) {
	closed := make(chan struct{})
	h := newHarness(t, func(c *Config) { c.OnClose = func() { close(closed) } })
	h.ok("session-close", nil)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called")
	}
}

func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r\x00\x1f", "<a&b>", "é\u2028\u2029😀", "bad\xffutf8"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s does not decode: %v", s, got, err)
		}
		want := strings.ToValidUTF8(s, "\ufffd")
		if back != want {
			t.Fatalf("%q: round trip %q", s, back)
		}
	}
}

func TestCanon(t *testing.T) {
	for in, want := range map[string]string{
		"speed-limit-down": "speed_limit_down", "downloadLimit": "download_limit", "download_limit": "download_limit",
		"hashString": "hash_string", "peer-limit": "peer_limit", "torrent-get": "torrent_get", "seedRatioLimit": "seed_ratio_limit",
	} {
		if got := canon(in); got != want {
			t.Errorf("canon(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRPCRequest(f *testing.F) {
	for _, s := range []string{
		`{"method":"session-get","tag":1}`,
		`{"method":"torrent-get","arguments":{"fields":["id","name","files","peers","trackerStats"],"ids":[1,"recently-active"]}}`,
		`{"method":"torrent-set","arguments":{"ids":1,"files-wanted":[0],"downloadLimit":5}}`,
		`{"method":"torrent-add","arguments":{"metainfo":"ZDQ6aW5mb2Rl"}}`,
		`{"method":"session-set","arguments":{"speed-limit-down":1e300}}`,
		`{"method":"torrent-get","arguments":{"fields":["id"],"format":"table","ids":[1.5,-1]}}`,
	} {
		f.Add([]byte(s))
	}
	h := newHarness(f)
	fx := newFixture(f, 16<<10, nil, 20_000, 10_000)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir, "paused": true})
	f.Fuzz(func(t *testing.T, body []byte) {
		if bytes.Contains(body, []byte("remove")) || bytes.Contains(body, []byte("close")) || bytes.Contains(body, []byte("dir")) ||
			bytes.Contains(body, []byte("filename")) || bytes.Contains(body, []byte("verify")) {
			return // keep the fixture, the files and the daemon as they are
		}
		out := h.d.call(t.Context(), body)
		var r map[string]any
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("response is not JSON: %v\n%s", err, out)
		}
		if _, ok := r["result"].(string); !ok {
			t.Fatalf("no result: %s", out)
		}
	})
}

// A magnet: the metadata is fetched from a peer (the magnet's x.pe hint),
// torrent-get shows the metadata phase meanwhile, the file choices given
// at torrent-add apply once the files are known, and the download
// completes.
func TestRPC_Magnet(t *testing.T) {
	fx := newFixture(t, 16<<10, nil, 60_000, 40_000)
	seeder, err := client.New(t.Context(), client.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer seeder.Close()
	if _, err := seeder.Add(t.Context(), client.Spec{Torrent: fx.mi, Dir: fx.dir}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	link := "magnet:?xt=urn:btih:" + fx.mi.InfoHashHex() + "&dn=payload&x.pe=" + seeder.Addr().String()
	a := h.ok("torrent-add", map[string]any{"filename": link, "files-unwanted": []int{1}})
	added := a["torrent-added"].(map[string]any)
	if added["name"] != "payload" || added["hashString"] != fx.mi.InfoHashHex() {
		t.Fatalf("torrent-added %v", added)
	}
	fields := []string{"status", "metadataPercentComplete", "percentDone", "leftUntilDone", "wanted", "magnetLink", "totalSize"}
	first := h.torrents(map[string]any{"fields": fields})[0]
	// (The metadata and the download may be done by now: loopback is fast.)
	if st := num(first["status"]); st != trDownload && st != trCheck && st != trSeed || !strings.Contains(first["magnetLink"].(string), fx.mi.InfoHashHex()) {
		t.Fatalf("just added: %v", first)
	}
	waitFor(t, 30*time.Second, "the download", func() bool {
		tt := h.torrents(map[string]any{"fields": fields})[0]
		w, _ := tt["wanted"].([]any)
		return tt["metadataPercentComplete"] == 1.0 && num(tt["leftUntilDone"]) == 0 && len(w) == 2 && num(w[1]) == 0
	})
	tt := h.torrents(map[string]any{"fields": fields})[0]
	if w := tt["wanted"].([]any); len(w) != 2 || num(w[0]) != 1 || num(w[1]) != 0 {
		t.Fatalf("files-unwanted [1] not applied once the files were known: %v", tt)
	}
	got, err := os.ReadFile(filepath.Join(h.dlDir, "payload", "a.bin"))
	want, _ := os.ReadFile(filepath.Join(fx.dir, "payload", "a.bin"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("a.bin differs (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(h.dlDir, "payload", "b.bin")); err == nil {
		t.Fatal("the unwanted b.bin was created")
	}
	// The same torrent again, by magnet or by file: a duplicate.
	if a := h.ok("torrent-add", map[string]any{"filename": link}); a["torrent-duplicate"] == nil {
		t.Fatalf("the magnet again: %v", a)
	}
	if a := h.ok("torrent-add", map[string]any{"metainfo": fx.b64()}); a["torrent-duplicate"] == nil {
		t.Fatalf("the .torrent of a magnet's torrent: %v", a)
	}
}
