package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
)

// transferFixture writes a payload, its .torrent, and starts an in-process
// seeder; it returns the torrent path, the payload and the seeder.
func transferFixture(t *testing.T, size int) (string, []byte, *session.Session, *metainfo.MetaInfo) {
	t.Helper()
	src := t.TempDir()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(uint64(size), 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(src, "payload.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, tb, err := metainfo.Build(context.Background(), filepath.Join(src, "payload.bin"), metainfo.BuildOptions{PieceLength: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tpath := filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(tpath, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seeder, err := session.Start(ctx, session.Config{Torrent: mi, Dir: src, ListenAddr: "127.0.0.1:0", Seed: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	return tpath, data, seeder, mi
}

func seederAddr(s *session.Session) string {
	return fmt.Sprintf("127.0.0.1:%d", s.Addr().Port())
}

func TestDownloadCmdCompletesWithJSONProgress(t *testing.T) {
	tpath, data, seeder, _ := transferFixture(t, 2<<20+5)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stdout, stderr, code := runCmd(ctx, "download", tpath, "-o", dir, "--port", "0",
		"--peer", seederAddr(seeder), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "payload.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (err %v)", err)
	}
	// Every stdout line is a JSON progress record; the last says done.
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var last jsonStats
	for _, l := range lines {
		if err := json.Unmarshal([]byte(l), &last); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
	}
	if last.Percent != 100 || last.Left != 0 || last.PiecesHave != last.PiecesTotal {
		t.Fatalf("last progress line %+v", last)
	}
}

func TestSeedCmdIncompleteDataExits2(t *testing.T) {
	tpath, data, _, _ := transferFixture(t, 1<<20)
	dir := t.TempDir()
	bad := append([]byte(nil), data...)
	bad[100] ^= 0xff          // piece 0 corrupt
	bad = bad[:len(bad)-1000] // last piece short
	if err := os.WriteFile(filepath.Join(dir, "payload.bin"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, stderr, code := runCmd(ctx, "seed", tpath, "-d", dir, "--port", "0")
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "14 of 16 pieces verified") {
		t.Fatalf("stderr does not say how many pieces verified:\n%s", stderr)
	}
}

func TestDownloadCmdInterruptedThenResumed(t *testing.T) {
	tpath, data, seeder, mi := transferFixture(t, 3<<20)
	dir, state := t.TempDir(), t.TempDir()
	lastLine := func(stdout string) jsonStats {
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		var last jsonStats
		json.Unmarshal([]byte(lines[len(lines)-1]), &last)
		return last
	}
	// First run: 1 MiB/s, interrupted after about a second.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	stdout, stderr, code := runCmd(ctx, "download", tpath, "-o", dir, "--port", "0", "--data-dir", state,
		"--peer", seederAddr(seeder), "--download-rate", "1M", "--json")
	cancel()
	if code == 0 {
		t.Fatalf("interrupted download exited 0\n%s", stderr)
	}
	first := lastLine(stdout)
	// Second run: completes, keeping what the first verified. Downloaded
	// counts since the torrent was added, across runs.
	ctx, cancel = context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stdout, stderr, code = runCmd(ctx, "download", tpath, "-o", dir, "--port", "0", "--data-dir", state,
		"--peer", seederAddr(seeder), "--json")
	if code != 0 {
		t.Fatalf("resumed download: exit %d\n%s", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "payload.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (err %v)", err)
	}
	last := lastLine(stdout)
	if again := last.Downloaded - first.Downloaded; first.Downloaded == 0 || again >= mi.Info.TotalLength() {
		t.Fatalf("the resumed run downloaded %d bytes of %d (the first %d): nothing was kept", again, mi.Info.TotalLength(), first.Downloaded)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]int{"": 0, "0": 0, "1000": 1000, "10k": 10240, "2M": 2 << 20,
		"1.5MiB": 3 << 19, "1G/s": 1 << 30, "5KB": 5000, "5KiB/s": 5120, "1T": 1 << 40} {
		got, err := parseRate(in)
		if err != nil || got != want {
			t.Errorf("parseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1", "2T", "M", "1.5", "/s"} {
		if _, err := parseRate(in); err == nil {
			t.Errorf("parseRate(%q) accepted", in)
		}
	}
}

// TestBindFlag: --bind puts the listening socket on one address (with
// --port, or a free port); anything but an IP address is refused with
// exit status 2, naming the flag.
func TestBindFlag(t *testing.T) {
	for _, c := range []struct {
		bind string
		port int
		want string
	}{
		{"", 6881, ":6881"},
		{"127.0.0.1", 0, "127.0.0.1:0"},
		{"::1", 7000, "[::1]:7000"},
	} {
		f := transferFlags{bind: c.bind, port: c.port, maxPeers: 50}
		tr, err := f.check()
		if err != nil || tr.cfg.ListenAddr != c.want {
			t.Errorf("--bind %q --port %d: listen %q, %v; want %q", c.bind, c.port, tr.cfg.ListenAddr, err, c.want)
		}
	}
	tpath, data, seeder, _ := transferFixture(t, 1<<20+7)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, bad := range []string{"localhost", "10.0.0.300", "fe80::1%eth0"} {
		_, stderr, code := runCmd(ctx, "download", tpath, "-o", t.TempDir(), "--bind", bad)
		if code != 2 || !strings.Contains(stderr, "--bind") {
			t.Errorf("--bind %q: exit %d, stderr %q; want 2 naming --bind", bad, code, stderr)
		}
	}
	dir := t.TempDir()
	if _, stderr, code := runCmd(ctx, "download", tpath, "-o", dir, "--bind", "127.0.0.1", "--port", "0",
		"--peer", seederAddr(seeder)); code != 0 {
		t.Fatalf("download --bind 127.0.0.1: exit %d\n%s", code, stderr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "payload.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (err %v)", err)
	}
}

// TestBufferedWritesFlag: --buffered-writes reaches the client's
// configuration, and a download with it is byte for byte.
func TestBufferedWritesFlag(t *testing.T) {
	f := transferFlags{port: 0, maxPeers: 50, buffered: true}
	if tr, err := f.check(); err != nil || !tr.cfg.BufferedWrites {
		t.Fatalf("--buffered-writes: BufferedWrites %v (%v)", tr.cfg.BufferedWrites, err)
	}
	tpath, data, seeder, _ := transferFixture(t, 1<<20+7)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	if _, stderr, code := runCmd(ctx, "download", tpath, "-o", dir, "--port", "0", "--buffered-writes",
		"--peer", seederAddr(seeder)); code != 0 {
		t.Fatalf("download --buffered-writes: exit %d\n%s", code, stderr)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "payload.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file differs (err %v)", err)
	}
}

// TestStartClientPortFallback: a taken default port falls back to a free
// one on the same address; a taken --port is an error; so is a --bind to
// an address the machine does not have (no fallback: a free port would not
// help).
func TestStartClientPortFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := client.Config{DataDir: t.TempDir(), ListenAddr: taken, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c, cleanup, err := startClient(ctx, cfg, false, io.Discard)
	if err != nil {
		t.Fatalf("default port taken: %v", err)
	}
	if a := c.Addr(); a.Addr().String() != "127.0.0.1" || a.String() == taken {
		t.Errorf("fell back to %v, want another port on 127.0.0.1", a)
	}
	c.Shutdown(ctx)
	cleanup()
	if c, _, err := startClient(ctx, cfg, true, io.Discard); err == nil {
		c.Shutdown(ctx)
		t.Error("explicit --port taken: no error")
	}
	cfg.ListenAddr = "192.0.2.1:0" // TEST-NET-1: not this machine's
	if c, _, err := startClient(ctx, cfg, false, io.Discard); err == nil {
		c.Shutdown(ctx)
		t.Error("--bind to a foreign address: no error")
	}
}

// TestStartClientStoreInUse: a second command on the same data directory
// runs without resume data instead of failing, and says so.
func TestStartClientStoreInUse(t *testing.T) {
	ctx := context.Background()
	cfg := client.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	first, _, err := startClient(ctx, cfg, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Shutdown(ctx)
	var note bytes.Buffer
	second, cleanup, err := startClient(ctx, cfg, true, &note)
	if err != nil {
		t.Fatal(err)
	}
	second.Shutdown(ctx)
	cleanup()
	if !strings.Contains(note.String(), "keeps no resume data") {
		t.Fatalf("no note about the store in use: %q", note.String())
	}
}
