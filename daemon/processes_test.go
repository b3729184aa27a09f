package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
)

// /debug/processes lists the acceptor pool and each torrent's session,
// grouped; a watch streams the session's events live, and ends cleanly
// when the client goes away.
func TestProcesses_ListAndWatch(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 40_000)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir})
	e := h.d.reg.byIDs(1)
	waitFor(t, 10*time.Second, "seeding", func() bool { return e.t.Stats().State == client.Seeding })
	resp, err := h.hc.Get(h.url + "/debug/processes")
	if err != nil {
		t.Fatal(err)
	}
	var ps Processes
	err = json.NewDecoder(resp.Body).Decode(&ps)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /debug/processes: %d %v", resp.StatusCode, err)
	}
	if ps.Count != 2 || len(ps.Groups) != 2 || ps.Groups[0].Processes[0].Kind != "acceptor" ||
		ps.Groups[1].InfoHash != fx.mi.InfoHashHex() || ps.Groups[1].TorrentID != 1 {
		t.Fatalf("processes %+v", ps)
	}
	sess := ps.Groups[1].Processes[0]
	if sess.Kind != "session" || sess.State != "seeding" || len(sess.Log) == 0 {
		t.Fatalf("session process %+v", sess)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/debug/processes/%d/events", h.url, sess.ID), nil)
	resp, err = h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := sseEvents(resp.Body)
	if ev := <-events; ev.name != "snapshot" || !strings.Contains(ev.data, `"state":"seeding"`) {
		t.Fatalf("first event %+v", ev)
	}
	// Something for the session to handle: a peer address to try.
	e.t.AddPeers(h.c.Addr())
	var line traceLine
	for ev := range events {
		if ev.name != "trace" {
			continue
		}
		json.Unmarshal([]byte(ev.data), &line)
		if strings.Contains(line.Line, "evAddPeers") {
			break
		}
	}
	if !strings.HasPrefix(line.Line, "event {cast session.evAddPeers} seeding") {
		t.Fatalf("trace line %q", line.Line)
	}
	cancel() // the watcher leaves; the tracer goes with it (goleak checks the goroutines)

	// An unknown number is a 404; a process number survives while it runs.
	resp2, err := h.hc.Get(h.url + "/debug/processes/999/events")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown process: %d", resp2.StatusCode)
	}
}

type sseEvent struct{ name, data string }

// sseEvents parses a Server-Sent Events stream.
func sseEvents(r io.Reader) <-chan sseEvent {
	ch := make(chan sseEvent, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		var ev sseEvent
		for sc.Scan() {
			l := sc.Text()
			switch {
			case l == "":
				if ev.name != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(l, "event: "):
				ev.name = l[len("event: "):]
			case strings.HasPrefix(l, "data: "):
				ev.data = l[len("data: "):]
			}
		}
	}()
	return ch
}

// /metrics has the torrent's series, the totals, the latency histograms
// and the machines by state.
func TestMetrics(t *testing.T) {
	h := newHarness(t)
	fx := newFixture(t, 16<<10, nil, 40_000)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64(), "download-dir": fx.dir})
	e := h.d.reg.byIDs(1)
	waitFor(t, 10*time.Second, "seeding", func() bool { return e.t.Stats().State == client.Seeding })
	resp, err := h.hc.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`effusion_torrent_downloaded_bytes_total{infohash="` + fx.mi.InfoHashHex() + `",name="payload.bin"} 0`,
		`effusion_torrent_pieces{infohash="` + fx.mi.InfoHashHex() + `",name="payload.bin"} 3`,
		`effusion_torrent_state{infohash="` + fx.mi.InfoHashHex() + `",name="payload.bin",state="seeding"} 1`,
		`effusion_torrents{state="seeding"} 1`,
		`effusion_machines{kind="session",state="seeding"} 1`,
		`effusion_machines{kind="acceptor",state="running"} 1`,
		`effusion_piece_hash_seconds_bucket{le="0.001"}`,
		`effusion_piece_write_seconds_count 0`,
		`effusion_bans_total 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}
