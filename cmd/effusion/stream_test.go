package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
)

// TestStreamCmdBadInput: stream refuses bad command lines with status 2
// and one line, before it starts anything.
func TestStreamCmdBadInput(t *testing.T) {
	dir := t.TempDir()
	tor := smallTorrent(t, dir)
	st := func(extra ...string) []string {
		return append([]string{"stream", tor, "-o", filepath.Join(dir, "dl"), "--port", "0"}, extra...)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stream"}, "effusion: accepts 1 arg(s), received 0 (usage: effusion stream FILE.torrent|MAGNET|INFOHASH [flags])"},
		{st("--file", "3"), "effusion: --file 3: payload.bin has no such file (see effusion info)"},
		{st("--file", "-2"), "effusion: --file -2: not a file index"},
		{st("--file-name", "*.mkv"), `effusion: --file-name "*.mkv": no file of payload.bin matches`},
		{st("--file-name", "["), `effusion: --file-name "[": syntax error in pattern`},
		{st("--file", "0", "--file-name", "*.bin"), "effusion: --file and --file-name exclude each other"},
		{st("--listen", "nowhere"), `effusion: --listen "nowhere": not HOST:PORT`},
		{st("--listen", "127.0.0.1:99999"), `effusion: --listen "127.0.0.1:99999": bad port`},
		{st("--listen", "example.org:80"), `effusion: --listen "example.org:80": not an IP address`},
		{[]string{"stream", "magnet:?xt=urn:btih:123"}, "effusion: magnet: "},
		{[]string{"stream", filepath.Join(dir, "none.torrent")}, "effusion: " + filepath.Join(dir, "none.torrent") + ": no such file or directory"},
	} {
		stdout, stderr, code := runBin(t, nil, c.args...)
		if code != 2 || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want 2 and the one line %q", c.args, code, stdout, stderr, c.want)
		}
	}
}

// streamFixture writes files under a torrent directory "show", builds it
// with 16 KiB pieces and seeds it from an in-process session uploading at
// upRate bytes/s (0: unlimited).
func streamFixture(t *testing.T, upRate int, files map[string][]byte) (string, *metainfo.MetaInfo, *session.Session) {
	t.Helper()
	src := t.TempDir()
	for name, b := range files {
		p := filepath.Join(src, "show", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mi, tb, err := metainfo.Build(context.Background(), filepath.Join(src, "show"), metainfo.BuildOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tpath := filepath.Join(t.TempDir(), "show.torrent")
	if err := os.WriteFile(tpath, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seeder, err := session.Start(ctx, session.Config{Torrent: mi, Dir: src, ListenAddr: "127.0.0.1:0", Seed: true,
		UploadRate: upRate, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		seeder.Stop(ctx)
	})
	if err := seeder.Await(ctx); err != nil {
		t.Fatal(err)
	}
	return tpath, mi, seeder
}

// startStream runs the real `effusion stream` on args and returns it and
// the URL it printed.
func startStream(t *testing.T, args ...string) (*testpeer.Proc, string) {
	t.Helper()
	p := testpeer.Start(t, "", effusionBin(t), append([]string{"stream"}, args...)...)
	url := p.WaitLine(t, "http://", 60*time.Second)
	return p, url
}

// stopStream interrupts the command as Ctrl-C does and expects status 0.
func stopStream(t *testing.T, p *testpeer.Proc) {
	t.Helper()
	p.Stop()
	if err := p.Err(); err != nil {
		t.Fatalf("effusion stream after Ctrl-C: %v\n%s", err, p.Output())
	}
}

// TestStreamCmdServes: the real command picks the largest file (or the one
// --file-name names), prints its URL, serves ranges of it while the
// torrent downloads slowly, redirects / to it, skips the other files, and
// exits 0 on Ctrl-C.
func TestStreamCmdServes(t *testing.T) {
	big, small := randomPayload(1, 600_001), randomPayload(2, 30_000)
	tpath, mi, seeder := streamFixture(t, 300_000, map[string][]byte{"ep1.mkv": big, "notes/ep1.srt": small})
	dl := t.TempDir()
	p, url := startStream(t, tpath, "-o", dl, "--data-dir", t.TempDir(), "--port", "0", "--bind", "127.0.0.1", "--peer", seederAddr(seeder))
	want := fmt.Sprintf("/stream/%x/0/ep1.mkv", mi.InfoHash)
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, want) {
		t.Fatalf("URL %q, want http://127.0.0.1:PORT%s", url, want)
	}
	get := func(u, rng string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", u, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	resp, b := get(url, "bytes=450000-")
	if resp.StatusCode != 206 || !bytes.Equal(b, big[450_000:]) || resp.Header.Get("Content-Type") != "video/x-matroska" {
		t.Fatalf("range: %s, %d bytes, %q", resp.Status, len(b), resp.Header.Get("Content-Type"))
	}
	resp, b = get(strings.TrimSuffix(url, want)+"/", "bytes=0-99")
	if resp.StatusCode != 206 || !bytes.Equal(b, big[:100]) {
		t.Fatalf("/ redirected: %s, %d bytes", resp.Status, len(b))
	}
	stopStream(t, p)
	if _, err := os.Stat(filepath.Join(dl, "show", "notes", "ep1.srt")); !os.IsNotExist(err) {
		t.Fatalf("the file not streamed was downloaded (%v)", err)
	}

	p, url = startStream(t, tpath, "--file-name", "*.srt", "-o", t.TempDir(), "--data-dir", t.TempDir(), "--port", "0", "--peer", seederAddr(seeder))
	if resp, b := get(url, ""); resp.StatusCode != 200 || !bytes.Equal(b, small) || !strings.HasSuffix(url, "/1/ep1.srt") {
		t.Fatalf("--file-name: %s %s, %d bytes", url, resp.Status, len(b))
	}
	stopStream(t, p)
}

// TestStreamCmdMagnet: from a magnet, the URL comes once the metadata has.
func TestStreamCmdMagnet(t *testing.T) {
	data := randomPayload(3, 200_000)
	_, mi, seeder := streamFixture(t, 0, map[string][]byte{"a.mp4": data})
	p, url := startStream(t, fmt.Sprintf("magnet:?xt=urn:btih:%x", mi.InfoHash), "-o", t.TempDir(), "--data-dir", t.TempDir(),
		"--port", "0", "--peer", seederAddr(seeder))
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("%d bytes of %d (%v)", len(b), len(data), err)
	}
	stopStream(t, p)
}

// TestStreamCmdChromium plays a short WebM made here with ffmpeg in
// headless Chromium, from the URL of the real `effusion stream` downloading
// it (slowly) from a loopback seeder: the video's currentTime advances.
func TestStreamCmdChromium(t *testing.T) {
	ffmpeg := testpeer.Require(t, "ffmpeg")
	chromium := testpeer.Require(t, "chromium")
	src := filepath.Join(t.TempDir(), "clip.webm")
	out, err := exec.Command(ffmpeg, "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=5:size=320x240:rate=25",
		"-c:v", "libvpx", "-b:v", "400k", "-y", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	clip, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	// The seeder uploads at about twice the clip's bitrate (some 150 kbit/s):
	// the browser plays while the torrent downloads.
	_, mi, seeder := streamFixture(t, 40_000, map[string][]byte{"clip.webm": clip})
	p, url := startStream(t, fmt.Sprintf("magnet:?xt=urn:btih:%x", mi.InfoHash), "-o", t.TempDir(), "--data-dir", t.TempDir(),
		"--port", "0", "--peer", seederAddr(seeder))

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()
	// The browser opens the URL as a player does: its media document plays
	// the video (muted autoplay is allowed by the flag above).
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const v = document.querySelector('video');
		if (v && v.paused && v.readyState >= 2) { v.muted = true; v.play(); }
		return !!v && v.currentTime > 1.5; })()`, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const v = document.querySelector('video');
			if (!v) return 'no video element';
			return 'time ' + v.currentTime + ' ready ' + v.readyState + ' network ' + v.networkState +
				' error ' + (v.error ? v.error.code + ' ' + v.error.message : 'none'); })()`))
		t.Fatalf("the video did not play: %v (%s)", err, state)
	}
	stopStream(t, p)
}

func randomPayload(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed) * 2654435761
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
