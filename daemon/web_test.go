package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/internal/testpeer"
)

// browser starts headless Chromium (Debian's chromium) for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	exe := testpeer.Require(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // as root
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancel(); cancelA() })
	return ctx
}

// shot saves a screenshot of the page as a test artifact (go test
// -artifacts keeps them; scripts/test.sh puts them in test-artifacts/).
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(t.ArtifactDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

// until polls a JavaScript condition in the page.
func until(t *testing.T, ctx context.Context, what, js string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, page)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// TestWebUI drives the web UI in headless Chromium: a magnet is added and
// downloaded from an Effusion seeder found through the magnet's tracker,
// its peers and files shown while it runs, its progress reaching 100%
// (and its .torrent, uploaded, is a duplicate); then it is stopped, the
// processes view opened and a machine watched live, the page checked at a
// phone's width, and the torrent removed with its data. Every control has
// an accessible name.
func TestWebUI(t *testing.T) {
	ctx := browser(t)
	tr := startTracker(t)
	fx := newFixture(t, 64<<10, []string{tr.AnnounceURL()}, 3<<20, 2<<20)
	// The seeder: an Effusion client, slowed so the download takes seconds.
	sc, err := client.New(context.Background(), client.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0",
		UploadRate: 1 << 20, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if _, err := sc.Add(context.Background(), client.Spec{Torrent: fx.mi, Dir: fx.dir}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)

	do(t, ctx, "open the page", chromedp.Navigate(h.url+"/"))
	until(t, ctx, "the first refresh", `document.querySelector('#totals').textContent.includes('torrent')`, 10*time.Second)

	// A magnet (with the tracker the seeder announces to), pasted.
	do(t, ctx, "paste a magnet",
		chromedp.SendKeys(chromedp.CSS("#add-magnet"), fx.mi.Magnet().String()),
		chromedp.Click(chromedp.CSS("#add-button")))
	until(t, ctx, "the torrent in the list", `document.querySelectorAll('#torrents li.torrent').length === 1 && document.querySelector('#notice').textContent === 'Added payload'`, 10*time.Second)
	shot(t, ctx, "add-magnet")
	do(t, ctx, "open its detail and peers",
		chromedp.Click(chromedp.CSS("#torrents li.torrent .name")),
		chromedp.Click(chromedp.CSS("#torrents li.torrent details.peers summary")),
		chromedp.Click(chromedp.CSS("#torrents li.torrent details.files summary")))
	until(t, ctx, "a peer sending while downloading", `(() => {
		const r = document.querySelector('#torrents details.peers tbody tr');
		return r && r.cells[5].textContent === '100.0%' && r.cells[3].textContent !== '0 B/s' && r.cells[1].textContent !== '—' &&
			!document.querySelector('#torrents .meta').textContent.includes('down 0 B/s');
	})()`, 30*time.Second)
	until(t, ctx, "the files", `document.querySelectorAll('#torrents details.files tbody tr').length === 2`, 10*time.Second)
	shot(t, ctx, "detail-peers")
	until(t, ctx, "100%", `document.querySelector('#torrents .pct').textContent === '100.0%' && document.querySelector('#torrents .state').textContent === 'seeding'`, 60*time.Second)
	do(t, ctx, "open the pieces map", chromedp.Click(chromedp.CSS("#torrents li.torrent details.pieces summary")))
	until(t, ctx, "the pieces map", `document.querySelector('#torrents .ptext').textContent === '80 of 80 pieces verified'`, 10*time.Second)
	shot(t, ctx, "torrents")
	// Its .torrent, uploaded: already there.
	do(t, ctx, "upload the .torrent",
		chromedp.SetUploadFiles(chromedp.CSS("#add-file"), []string{fx.path}),
		chromedp.Click(chromedp.CSS("#add-button")))
	until(t, ctx, "the duplicate", `document.querySelector('#notice').textContent === 'Already there: payload'`, 10*time.Second)
	for _, name := range []string{"a.bin", "b.bin"} {
		want, _ := os.ReadFile(filepath.Join(fx.dir, "payload", name))
		got, err := os.ReadFile(filepath.Join(h.dlDir, "payload", name))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s differs after the download (%v)", name, err)
		}
	}

	do(t, ctx, "stop it", chromedp.Click(chromedp.CSS("#torrents li.torrent .toggle")))
	until(t, ctx, "stopped", `document.querySelector('#torrents .state').textContent === 'stopped' && document.querySelector('#torrents .toggle').textContent === 'Start'`, 20*time.Second)
	if st := h.d.reg.byIDs(1).t.Stats(); st.State != client.Paused {
		t.Fatalf("the client's torrent after Stop: %v", st.State)
	}
	do(t, ctx, "start it again", chromedp.Click(chromedp.CSS("#torrents li.torrent .toggle")))
	until(t, ctx, "seeding again", `document.querySelector('#torrents .state').textContent === 'seeding'`, 20*time.Second)

	// Every control has an accessible name (label, aria-label or text).
	unnamed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('button, input, select, a, [tabindex]')]
		.filter(e => e.offsetParent !== null || e.type === 'file')
		.filter(e => !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || e.textContent.trim() || e.getAttribute('aria-labelledby')))
		.map(e => e.outerHTML.slice(0, 80))`))
	if err != nil || len(unnamed) > 0 {
		t.Fatalf("controls without an accessible name: %v %v", unnamed, err)
	}
	// The keyboard reaches the first torrent's controls.
	do(t, ctx, "tab to the name", chromedp.Focus(chromedp.CSS("#torrents li.torrent .name")), chromedp.KeyEvent("\t"))
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className`)); focused != "toggle" && focused != "" {
		t.Logf("focus after the name: %q", focused)
	}

	// The processes view, and a machine watched live.
	do(t, ctx, "open the processes", chromedp.Click(chromedp.CSS("#nav-processes")))
	until(t, ctx, "the processes", `[...document.querySelectorAll('#groups td')].some(td => td.textContent === 'session')`, 10*time.Second)
	shot(t, ctx, "processes")
	do(t, ctx, "watch the session", chromedp.Evaluate[chromedp.Void](`(() => {
		const row = [...document.querySelectorAll('#groups tr')].find(tr => tr.cells[0] && tr.cells[0].textContent === 'session');
		row.querySelector('button').click();
	})()`))
	until(t, ctx, "the watch", `document.querySelector('#watch-state').textContent.startsWith('State seeding')`, 10*time.Second)
	// Something for the session to do: a peer to dial.
	h.d.reg.byIDs(1).t.AddPeers(h.c.Addr())
	until(t, ctx, "a live event", `document.querySelectorAll('#watch-log li').length > 0`, 10*time.Second)
	shot(t, ctx, "watch")
	do(t, ctx, "stop watching", chromedp.Click(chromedp.CSS("#watch-stop")))

	// A phone's width.
	do(t, ctx, "back to the torrents", chromedp.Click(chromedp.CSS("#nav-torrents")), chromedp.EmulateViewport(390, 844))
	until(t, ctx, "the list", `!document.querySelector('#view-torrents').hidden`, 5*time.Second)
	wide, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if wide {
		t.Error("the page scrolls sideways at a phone's width")
	}
	shot(t, ctx, "phone")
	do(t, ctx, "a desktop's width", chromedp.EmulateViewport(1100, 900))

	// Removed with its data, through the dialog.
	do(t, ctx, "remove", chromedp.Click(chromedp.CSS("#torrents li.torrent .remove")))
	until(t, ctx, "the dialog", `document.querySelector('#remove-dialog').open`, 5*time.Second)
	shot(t, ctx, "remove-dialog")
	do(t, ctx, "remove with data", chromedp.Click(chromedp.CSS("#remove-delete")))
	until(t, ctx, "an empty list", `document.querySelectorAll('#torrents li.torrent').length === 0 && document.querySelector('#notice').textContent.includes('deleted its data')`, 20*time.Second)
	if _, err := os.Stat(filepath.Join(h.dlDir, "payload", "a.bin")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("data left after remove with data: %v", err)
	}
}
