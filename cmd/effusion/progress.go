package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/internal/units"
	"github.com/effusion-bt/effusion/session"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress renders the torrents' Stats: on a terminal, a live bar per
// torrent and a total (mpb); otherwise a line per torrent every few
// seconds; or JSON lines on stdout.
type progress struct {
	stdout, stderr io.Writer
	json           bool
	ts             []*client.Torrent
	last           time.Time

	bars  *mpb.Progress // nil without a terminal
	bar   []*mpb.Bar
	web   []atomic.Pointer[string] // per bar: its web seeds' part, read by mpb's goroutine
	total *mpb.Bar
}

func newProgress(stdout, stderr io.Writer, asJSON bool, ts []*client.Torrent) *progress {
	p := &progress{stdout: stdout, stderr: stderr, json: asJSON, ts: ts}
	if asJSON || !isTerminal(stderr) {
		return p
	}
	p.bars = mpb.New(mpb.WithOutput(stderr), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	p.web = make([]atomic.Pointer[string], len(ts)+1)
	add := func(name string, total int64, web *atomic.Pointer[string]) *mpb.Bar {
		return p.bars.AddBar(total,
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
				decor.Any(func(decor.Statistics) string {
					if s := web.Load(); s != nil {
						return *s
					}
					return ""
				})),
		)
	}
	var sum int64
	for i, t := range ts {
		w := t.Stats().Wanted
		p.bar = append(p.bar, add(shorten(t.Name(), 28), w, &p.web[i]))
		sum += w
	}
	if len(ts) > 1 {
		p.total = add("total", sum, &p.web[len(ts)])
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// jsonStats is one --json line.
type jsonStats struct {
	Time         string  `json:"time"`
	Name         string  `json:"name"`
	InfoHash     string  `json:"infohash"`
	Phase        string  `json:"phase"`
	Percent      float64 `json:"percent"`
	PiecesHave   int     `json:"pieces_have"`
	PiecesTotal  int     `json:"pieces_total"`
	Left         int64   `json:"left"`
	Downloaded   int64   `json:"downloaded"`
	Uploaded     int64   `json:"uploaded"`
	DownloadRate float64 `json:"download_rate"`
	UploadRate   float64 `json:"upload_rate"`
	ETASeconds   float64 `json:"eta_seconds,omitempty"`
	Peers        int     `json:"peers"`
	UTPPeers     int     `json:"utp_peers"` // of them, connected over uTP
	// Downloaded split by source, and the web seeds (BEP 19).
	PeerDownloaded    int64         `json:"peer_downloaded"`
	WebSeedDownloaded int64         `json:"web_seed_downloaded"`
	WebSeedRate       float64       `json:"web_seed_rate"`
	WebSeeds          []jsonWebSeed `json:"web_seeds,omitempty"`
}

// jsonWebSeed is one web seed in a --json line.
type jsonWebSeed struct {
	URL        string `json:"url"`
	Downloaded int64  `json:"downloaded"`
	State      string `json:"state"`
	LastError  string `json:"last_error,omitempty"`
}

func webSeedsJSON(st client.Stats) []jsonWebSeed {
	var out []jsonWebSeed
	for _, w := range st.WebSeeds {
		j := jsonWebSeed{URL: w.URL, Downloaded: w.Downloaded, State: w.State.String()}
		if w.LastError != nil {
			j.LastError = w.LastError.Error()
		}
		out = append(out, j)
	}
	return out
}

// webSeedsLine is the web seeds' part of a progress line: how many of them
// are fetching, their rate and their bytes ("" without web seeds).
func webSeedsLine(st client.Stats) string {
	if len(st.WebSeeds) == 0 {
		return ""
	}
	active := 0
	for _, w := range st.WebSeeds {
		if w.State == session.WebSeedActive {
			active++
		}
	}
	return fmt.Sprintf("  web seeds %d/%d %s/s (%s)", active, len(st.WebSeeds),
		units.FormatFloat(st.WebSeedRate), units.Format(st.WebSeedDownloaded))
}

// percent is the share of the wanted bytes verified.
func percent(st client.Stats) float64 {
	if st.Wanted <= 0 {
		return 100
	}
	return 100 * float64(st.Wanted-st.Left) / float64(st.Wanted)
}

func eta(st client.Stats) time.Duration {
	if st.DownloadRate > 0 && st.Left > 0 {
		return time.Duration(float64(st.Left) / st.DownloadRate * float64(time.Second))
	}
	return 0
}

// show draws the current state (final: the last time).
func (p *progress) show(final bool) {
	switch {
	case p.json:
		enc := json.NewEncoder(p.stdout)
		for _, t := range p.ts {
			st := t.Stats()
			ih := t.InfoHash()
			enc.Encode(jsonStats{
				Time: time.Now().UTC().Format(time.RFC3339), Name: t.Name(), InfoHash: hex.EncodeToString(ih[:]),
				Phase: st.State.String(), Percent: percent(st),
				PiecesHave: st.PiecesHave, PiecesTotal: st.PiecesTotal, Left: st.Left,
				Downloaded: st.Downloaded, Uploaded: st.Uploaded,
				DownloadRate: st.DownloadRate, UploadRate: st.UploadRate,
				ETASeconds: eta(st).Seconds(), Peers: st.Peers, UTPPeers: utpPeers(st),
				PeerDownloaded: st.Downloaded - st.WebSeedDownloaded, WebSeedDownloaded: st.WebSeedDownloaded,
				WebSeedRate: st.WebSeedRate, WebSeeds: webSeedsJSON(st),
			})
		}
	case p.bars != nil:
		var sum int64
		for i, t := range p.ts {
			st := t.Stats()
			if st.Wanted > 0 {
				p.bar[i].SetTotal(st.Wanted, false)
			}
			p.bar[i].SetCurrent(st.Wanted - st.Left)
			if w := webSeedsLine(st); w != "" {
				p.web[i].Store(&w)
			}
			sum += st.Wanted - st.Left
		}
		if p.total != nil {
			p.total.SetCurrent(sum)
		}
	case final || time.Since(p.last) >= 5*time.Second:
		p.last = time.Now()
		for _, t := range p.ts {
			st := t.Stats()
			line := fmt.Sprintf("%-11s %6.2f%%  %d/%d pieces  down %s/s  up %s/s  ETA %s  peers %d",
				st.State, percent(st), st.PiecesHave, st.PiecesTotal, units.FormatFloat(st.DownloadRate),
				units.FormatFloat(st.UploadRate), fmtETA(eta(st), st.Left), st.Peers) + webSeedsLine(st)
			if len(p.ts) > 1 {
				line = filepath.Base(t.Name()) + ": " + line
			}
			fmt.Fprintln(p.stderr, line)
		}
	}
}

// finish ends the bars (complete, or cut short).
func (p *progress) finish(ok bool) {
	if p.bars == nil {
		return
	}
	for _, b := range append(p.bar, p.total) {
		if b == nil {
			continue
		}
		if ok {
			b.SetTotal(-1, true)
		} else {
			b.Abort(false)
		}
	}
	p.bars.Wait()
	p.bars = nil
}

func (p *progress) note(msg string) {
	if p.json {
		return
	}
	fmt.Fprintln(p.stderr, msg)
}

func fmtETA(d time.Duration, left int64) string {
	switch {
	case left == 0:
		return "done"
	case d <= 0:
		return "--"
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}
