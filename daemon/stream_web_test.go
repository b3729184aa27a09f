package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/streamhttp"
)

// webmClip makes a short WebM (VP8 test pattern) with ffmpeg.
func webmClip(t *testing.T, seconds int) []byte {
	t.Helper()
	ffmpeg := testpeer.Require(t, "ffmpeg")
	p := filepath.Join(t.TempDir(), "clip.webm")
	out, err := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i",
		"testsrc=duration="+strconv.Itoa(seconds)+":size=320x240:rate=25",
		"-c:v", "libvpx", "-b:v", "400k", "-y", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// basicAuthOnce answers the Basic challenge of the page at pageURL alone,
// as a user at the browser's prompt does; every later request of the
// page (its script, the RPC, a <video>) must carry the credentials the
// browser keeps, or fail (headless Chromium has no prompt). It returns
// the number of challenges answered.
func basicAuthOnce(t *testing.T, ctx context.Context, pageURL, user, pass string) *atomic.Int32 {
	t.Helper()
	var n atomic.Int32
	ctx, cancel := context.WithCancel(ctx)
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	auth := chromedp.Events(ctx, fetch.AuthRequired)
	on := true
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: pageURL}}, HandleAuthRequests: &on,
	}); err != nil {
		t.Fatalf("Fetch.enable: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev, err := range paused {
			if err != nil {
				return
			}
			chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	go func() {
		defer wg.Done()
		for ev, err := range auth {
			if err != nil {
				return
			}
			n.Add(1)
			chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
				AuthChallengeResponse: &fetch.AuthChallengeResponse{
					Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: user, Password: pass}})
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &n
}

// TestWebUIPlays plays a WebM in headless Chromium from the web UI's Play
// link, through the daemon's /stream/ address, while the torrent downloads
// slowly from a seeder on loopback; the daemon has a password, answered
// once at the page's prompt: the page's <video> is let in with the
// credentials the browser keeps. The subtitles get an Open link at the
// torrent's own index (after a padding file). Then the address opened by
// itself (in the browser's own player) plays too.
func TestWebUIPlays(t *testing.T) {
	clip := webmClip(t, 10)
	ctx := browser(t)
	h := newHarness(t, func(c *Config) { c.User, c.Password = "admin", "s3cret" })
	challenges := basicAuthOnce(t, ctx, h.url+"/", "admin", "s3cret")
	fx := paddedFixture(t, []string{"clip.webm", "clip.srt"}, [][]byte{clip, []byte("1\n00:00:00,000 --> 00:00:02,000\nhello\n")})
	// The seeder uploads at about twice the clip's bitrate: the browser
	// plays while the torrent downloads.
	sc := startSeeder(t, fx, 30_000)

	do(t, ctx, "open the page", chromedp.Navigate(h.url+"/"))
	until(t, ctx, "the first refresh", `document.querySelector('#totals').textContent.includes('torrent')`, 10*time.Second)
	h.ok("torrent-add", map[string]any{"metainfo": fx.b64()})
	e := h.d.reg.byIDs(1)
	until(t, ctx, "the torrent in the list", `document.querySelectorAll('#torrents li.torrent').length === 1`, 10*time.Second)
	do(t, ctx, "open its files",
		chromedp.Click(chromedp.CSS("#torrents li.torrent .name")),
		chromedp.Click(chromedp.CSS("#torrents li.torrent details.files summary")))
	until(t, ctx, "the stream links", `document.querySelectorAll('#torrents details.files a.stream').length === 2`, 10*time.Second)
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#torrents details.files a.stream')].map(a => a.textContent + ' ' + a.getAttribute('href'))`))
	if err != nil {
		t.Fatal(err)
	}
	ih := fx.mi.InfoHash
	video, subs := strings.TrimPrefix(streamhttp.Path(ih, 0, "clip.webm"), "/"), strings.TrimPrefix(streamhttp.Path(ih, 2, "clip.srt"), "/")
	if len(links) != 2 || links[0] != "Play "+video || links[1] != "Open "+subs {
		t.Fatalf("links %q, want Play %s and Open %s", links, video, subs)
	}

	// The seeder, found now: the torrent downloads while the video plays.
	e.t.AddPeers(sc.Addr())
	do(t, ctx, "click Play", chromedp.Click(chromedp.CSS("#torrents details.files a.stream")))
	until(t, ctx, "the player", `document.querySelector('#player-dialog').open`, 5*time.Second)
	until(t, ctx, "the first frame", `document.querySelector('#player').currentTime > 0`, 60*time.Second)
	if st := e.t.Stats(); st.Left == 0 {
		t.Logf("the torrent was complete when the video started (%d bytes)", st.Length)
	} else {
		t.Logf("the video started with %d of %d bytes left to download", st.Left, st.Length)
	}
	until(t, ctx, "the video playing", `(() => { const v = document.querySelector('#player');
		return v.currentTime > 1.5 && !v.error; })()`, 60*time.Second)
	shot(t, ctx, "player")
	if n := challenges.Load(); n != 1 {
		t.Fatalf("%d Basic challenges answered, want 1 (the page's): the video's requests were not authenticated", n)
	}
	do(t, ctx, "close the player", chromedp.Click(chromedp.CSS("#player-close")))
	until(t, ctx, "the player closed and unloaded", `(() => { const v = document.querySelector('#player');
		return !document.querySelector('#player-dialog').open && !v.getAttribute('src') &&
			document.activeElement.classList.contains('stream'); })()`, 5*time.Second)

	// The address alone: the browser's own player. (Its <video> asks in
	// CORS mode, and failed to play from the cache entry the page's
	// player left: the daemon's files are not cached.)
	do(t, ctx, "open the address", chromedp.Navigate(h.url+"/"+video))
	until(t, ctx, "the browser's player playing", `(() => { const v = document.querySelector('video');
		if (v && v.paused && v.readyState >= 2) { v.muted = true; v.play(); }
		return !!v && v.currentTime > 1.5; })()`, 60*time.Second)
	if n := challenges.Load(); n != 1 {
		t.Fatalf("%d Basic challenges answered, want 1", n)
	}
}
