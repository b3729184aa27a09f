package testpeer

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// opentrackerReady bounds the wait for opentracker to answer with its
// whitelist loaded.
const opentrackerReady = 30 * time.Second

// StartOpentracker runs opentracker on 127.0.0.1 with a whitelist holding
// infoHashes (Debian builds it in whitelist mode: any other torrent is
// refused with a failure reason) and returns its HTTP and UDP announce URLs.
// It returns only once opentracker answers and has loaded the whitelist; the
// process is stopped at the test's cleanup. It ends the test through Missing
// when opentracker is not installed.
func StartOpentracker(t testing.TB, infoHashes ...[20]byte) (announceURL, udpURL string) {
	t.Helper()
	bin := Require(t, "opentracker")
	// opentracker chroots into dir and drops privileges: the directory and
	// the whitelist must be readable by others.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var wl strings.Builder
	for _, h := range infoHashes {
		wl.WriteString(hex.EncodeToString(h[:]) + "\n")
	}
	path := filepath.Join(dir, "whitelist")
	if err := os.WriteFile(path, []byte(wl.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	hp, up := FreePort(t), FreeUDPPort(t)
	// libgcc_s is preloaded: inside its chroot glibc cannot load it, and
	// opentracker, which cancels its whitelist thread as it stops, then
	// aborts ("libgcc_s.so.1 must be installed for pthread_cancel to
	// work") instead of exiting 0.
	p := Start(t, dir, "env", "LD_PRELOAD=libgcc_s.so.1", bin, "-i", "127.0.0.1", "-p", strconv.Itoa(hp), "-P", strconv.Itoa(up), "-d", dir, "-w", "/whitelist")
	announceURL = "http://127.0.0.1:" + strconv.Itoa(hp) + "/announce"
	udpURL = "udp://127.0.0.1:" + strconv.Itoa(up) + "/announce"
	if err := waitOpentracker(t, p, announceURL, infoHashes); err != nil {
		p.Stop()
		t.Fatalf("%v\n%s", err, p.Output())
	}
	return announceURL, udpURL
}

// errNotAccepted: opentracker answered, but not with a normal announce
// response (a failure reason while the whitelist is not loaded yet).
var errNotAccepted = errors.New("announce not accepted")

// waitOpentracker polls until every info-hash is accepted (with none, until
// opentracker answers at all). opentracker starts listening before it has
// read the whitelist, so an open port is not enough: until then it refuses
// every torrent. The probe is a "started" announce
// (opentracker skips the whitelist for "stopped" ones, so those prove
// nothing), followed at once by a "stopped" one that takes the probing peer
// out of the torrent again.
func waitOpentracker(t testing.TB, p *Proc, announceURL string, infoHashes [][20]byte) error {
	t.Helper()
	// probe returns an error unless opentracker answers; accepted says
	// whether the answer is a normal announce response.
	c := http.Client{Timeout: time.Second}
	announce := func(h [20]byte, event string) (*http.Response, error) {
		// Every byte percent-encoded: url.QueryEscape turns 0x20 into
		// "+", which opentracker does not decode, so a torrent whose
		// info-hash holds a 0x20 byte (one in thirteen) was refused for
		// good, whatever the whitelist.
		q := "info_hash=" + percentAll(h[:]) +
			"&peer_id=" + percentAll([]byte("-TP0000-readinessprb")) +
			"&port=9&uploaded=0&downloaded=0&left=0&compact=1&event=" + event
		return c.Get(announceURL + "?" + q)
	}
	probe := func(h [20]byte) (accepted bool, err error) {
		resp, err := announce(h, "started")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if err != nil {
			return false, err
		}
		if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte("d")) || bytes.Contains(body, []byte("failure reason")) {
			return false, fmt.Errorf("%w: status %d, body %q", errNotAccepted, resp.StatusCode, body)
		}
		// Leave nothing behind: the probe must not show up as a peer.
		stop, err := announce(h, "stopped")
		if err != nil {
			return false, err
		}
		stop.Body.Close()
		return true, nil
	}
	anyAnswer := len(infoHashes) == 0
	if anyAnswer {
		infoHashes = [][20]byte{{}}
	}
	deadline := time.Now().Add(opentrackerReady)
	for _, h := range infoHashes {
		for {
			accepted, err := probe(h)
			if accepted || (anyAnswer && errors.Is(err, errNotAccepted)) {
				break
			}
			select {
			case <-p.Done():
				return fmt.Errorf("opentracker exited (%v)", p.Err())
			default:
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("opentracker not ready with %x whitelisted after %v: %v", h, opentrackerReady, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// percentAll percent-encodes every byte of b.
func percentAll(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}
