package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/effusion-bt/effusion/bitset"
	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/internal/testpeer"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/storage"
)

// TestInteropKillNineResume: `effusion download` of 256 MiB from a real
// libtorrent seeder, killed with SIGKILL at 10 random points, restarted
// each time on the same data directory. After every kill the resume store
// claims only pieces that verify on disk; the last run completes
// byte-identical, and a full check agrees with the store. The test logs,
// per kill, the pieces the store claimed, those on disk, those the restart
// found, and in the end how many bytes the seeder sent beyond the payload
// (what the kills cost).
func TestInteropKillNineResume(t *testing.T) {
	if testing.Short() {
		t.Skip("256 MiB")
	}
	bin := effusionBin(t)
	python, script := testpeer.Libtorrent(t)
	const size = 256 << 20
	src := t.TempDir()
	payload := filepath.Join(src, "payload.bin")
	sum := writeRandom(t, payload, size)
	mi, tb, err := metainfo.Build(context.Background(), payload, metainfo.BuildOptions{PieceLength: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	tpath := filepath.Join(t.TempDir(), "payload.torrent")
	if err := os.WriteFile(tpath, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	port := testpeer.FreePort(t)
	seed := testpeer.Start(t, src, python, script, "seed", tpath, src, strconv.Itoa(port))
	seed.WaitLine(t, "READY", 60*time.Second)

	data, dl := t.TempDir(), t.TempDir()
	// The rate limit stretches the download over about 8 s so that
	// checkpoints happen between the kills.
	args := []string{"download", tpath, "-o", dl, "--data-dir", data, "--port", "0", "--no-dht", "--no-lsd",
		"--peer", "127.0.0.1:" + strconv.Itoa(port), "--json", "-v", "--download-rate", "32M"}
	seedRand := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seedRand, 11))
	// Ten random points of the download, as fractions of the payload
	// written (the file's allocated blocks: it is sparse until complete).
	points := make([]float64, 10)
	for i := range points {
		points[i] = 0.02 + 0.96*rng.Float64()
	}
	slices.Sort(points)
	t.Logf("random seed %d: kill points %.3f", seedRand, points)
	checkedRe := regexp.MustCompile(`msg="data checked".* have=(\d+)`)
	n := mi.Info.NumPieces()
	var onDisk int // pieces verified on disk after the previous kill
	for k := range 10 {
		cmd := exec.Command(bin, args...)
		cmd.Stdout = io.Discard
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		found := -1
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := checkedRe.FindSubmatch(sc.Bytes()); m != nil {
				found, _ = strconv.Atoi(string(m[1]))
				break
			}
		}
		go io.Copy(io.Discard, stderr)
		if found < 0 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("run %d never reported its check", k)
		}
		// Kill once the file holds points[k] of the payload.
		deadline := time.Now().Add(60 * time.Second)
		for written(filepath.Join(dl, "payload.bin")) < int64(points[k]*size) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		stored, err := client.ReadStore(data)
		if err != nil || len(stored) != 1 {
			t.Fatalf("kill %d: reading the store: %v (%d torrents)", k, err, len(stored))
		}
		claimed := 0
		var verified bitset.Set
		verified, err = checkOnDisk(dl, &mi.Info)
		if err != nil {
			t.Fatal(err)
		}
		if h := stored[0].Have; h != nil {
			claimed = h.Count()
			for p := range n {
				if h.Has(p) && !verified.Has(p) {
					t.Fatalf("kill %d: the store claims piece %d, which does not verify on disk", k, p)
				}
			}
		}
		t.Logf("kill %d: restart found %d pieces of %d on disk (%d re-downloaded); killed with %d on disk, %d claimed by the store",
			k, found, onDisk, max(onDisk-found, 0), verified.Count(), claimed)
		if found < onDisk {
			t.Errorf("kill %d: the restart found %d verified pieces, %d were on disk", k, found, onDisk)
		}
		onDisk = verified.Count()
	}
	out, err := exec.Command(bin, args[:len(args)-2]...).CombinedOutput()
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	if got := fileSHA1(t, filepath.Join(dl, "payload.bin")); got != sum {
		t.Fatal("the payload differs after the final run")
	}
	stored, err := client.ReadStore(data)
	if err != nil || len(stored) != 1 || stored[0].Have == nil || stored[0].Have.Count() != n {
		t.Fatalf("the store after completion: %v %+v", err, stored)
	}
	verified, err := checkOnDisk(dl, &mi.Info)
	if err != nil || verified.Count() != n {
		t.Fatalf("full check after completion: %d of %d pieces (%v)", verified.Count(), n, err)
	}
	seed.Stop()
	if up := lastUploaded(seed.Output()); up >= 0 {
		t.Logf("the seeder sent %d bytes for a %d-byte payload: %.2f%% more", up, size, 100*float64(up-size)/size)
	}
}

// written is how many bytes of the file at path are allocated.
func written(path string) int64 {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return 0
	}
	return st.Blocks * 512
}

// writeRandom writes size pseudo-random bytes to path and returns their
// SHA-1.
func writeRandom(t *testing.T, path string, size int) [20]byte {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var seed [32]byte
	r := rand.NewChaCha8(seed)
	h := sha1.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; left -= len(buf) {
		b := buf[:min(len(buf), left)]
		r.Read(b)
		h.Write(b)
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return [20]byte(h.Sum(nil))
}

func fileSHA1(t *testing.T, path string) [20]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha1.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [20]byte(h.Sum(nil))
}

// checkOnDisk hashes every piece of info under dir.
func checkOnDisk(dir string, info *metainfo.Info) (bitset.Set, error) {
	st, err := storage.Open(dir, info, storage.Options{ReadOnly: true})
	if err != nil {
		return bitset.Set{}, err
	}
	defer st.Close()
	return st.Check(context.Background(), nil)
}

// lastUploaded is the payload total the libtorrent peer last reported
// ("ul=N" on its status lines), or -1.
func lastUploaded(out string) int64 {
	m := regexp.MustCompile(`ul=(\d+)`).FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return -1
	}
	n, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return n
}
