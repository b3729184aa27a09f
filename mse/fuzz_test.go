package mse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Randomness of the side under test in the fuzz targets, fixed so that a
// recorded transcript of the peer replays into a valid handshake (the
// committed seeds are such transcripts; see TestFuzzSeedsReplay).
const (
	fuzzResponderSeed = 11
	fuzzInitiatorSeed = 12
)

// feedConn is a connection whose peer sends exactly the given bytes and
// then closes; what we write is kept.
type feedConn struct {
	r   *bytes.Reader
	out bytes.Buffer
}

func (c *feedConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *feedConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *feedConn) Close() error                     { return nil }
func (c *feedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *feedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *feedConn) SetDeadline(time.Time) error      { return nil }
func (c *feedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *feedConn) SetWriteDeadline(time.Time) error { return nil }
func (c *feedConn) consumed() int                    { return int(c.r.Size()) - c.r.Len() }

// maxResponderRead is the most a responder may read before it either
// fails or completes: Ya, PadA and the marker, the stream key, VC,
// crypto_provide, len(PadC), PadC, len(IA), IA.
const maxResponderRead = KeyLen + MaxPad + 20 + 20 + vcLen + 4 + 2 + MaxPad + 2 + MaxInitialPayload

// FuzzRespond: the bytes an initiator (the attacker) sends to our
// listener. The responder must never panic, never read past the spec's
// bounds, and succeed only with a method it chose for the torrent it
// knows.
func FuzzRespond(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &feedConn{r: bytes.NewReader(data)}
		c, err := respond(context.Background(), conn, lookupOne(testInfoHash), Prefer.Select, seeded(fuzzResponderSeed))
		if n := conn.consumed(); n > maxResponderRead {
			t.Fatalf("read %d bytes", n)
		}
		if err != nil {
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("error %v is not a *HandshakeError", err)
			}
			return
		}
		if !c.Method().single() || c.InfoHash() != testInfoHash {
			t.Fatalf("method %v torrent %x", c.Method(), c.InfoHash())
		}
		io.Copy(io.Discard, c) // the initial payload and the rest decrypt
	})
}

// maxInitiatorRead: Yb, PadB and the encrypted VC, crypto_select,
// len(PadD), PadD.
const maxInitiatorRead = KeyLen + MaxPad + vcLen + 4 + 2 + MaxPad

// FuzzInitiate: the bytes a responder (the attacker) sends back when we
// dial. The initiator must never panic, never read past the spec's
// bounds, and succeed only with one of the methods it offered.
func FuzzInitiate(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0x13}, 700))
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &feedConn{r: bytes.NewReader(data)}
		provide := RC4 | Plaintext
		c, err := initiate(context.Background(), conn, testInfoHash, provide, []byte("initial"), seeded(fuzzInitiatorSeed))
		if n := conn.consumed(); n > maxInitiatorRead {
			t.Fatalf("read %d bytes", n)
		}
		if err != nil {
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("error %v is not a *HandshakeError", err)
			}
			return
		}
		if !c.Method().single() || c.Method()&provide == 0 {
			t.Fatalf("method %v", c.Method())
		}
		io.Copy(io.Discard, c)
	})
}

// TestFuzzSeedsReplay: the committed seeds named valid-* are transcripts
// that still complete a handshake (if the handshake's use of randomness
// changes, regenerate them: MSE_WRITE_SEEDS=1 go test -run
// TestFuzzSeedsReplay ./mse/).
func TestFuzzSeedsReplay(t *testing.T) {
	type gen struct {
		name, target string
		data         []byte
	}
	var seeds []gen
	record := func(provide Method, ia []byte, sel Method) (fromIni, fromRes []byte) {
		choose := func(Method) (Method, error) { return sel, nil }
		a, b := tcpPair(t)
		ra, rb := &recordConn{Conn: a}, &recordConn{Conn: b}
		ctx := testCtx(t)
		done := make(chan error, 1)
		go func() {
			_, err := respond(ctx, rb, lookupOne(testInfoHash), choose, seeded(fuzzResponderSeed))
			done <- err
		}()
		if _, err := initiate(ctx, ra, testInfoHash, provide, ia, seeded(fuzzInitiatorSeed)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return bytes.Clone(ra.buf.Bytes()), bytes.Clone(rb.buf.Bytes())
	}
	// Our responder, under Prefer: an initiator offering both with an
	// empty IA, and one offering plaintext only with a BitTorrent
	// handshake as IA.
	hs := append([]byte("\x13BitTorrent protocol"), make([]byte, 48)...)
	fromIni, _ := record(RC4|Plaintext, nil, RC4)
	seeds = append(seeds, gen{"valid-rc4", "FuzzRespond", fromIni})
	fromIni, _ = record(Plaintext, hs, Plaintext)
	seeds = append(seeds, gen{"valid-plaintext", "FuzzRespond", fromIni})
	// Our initiator as FuzzInitiate runs it, answered with each method.
	for _, sel := range []Method{RC4, Plaintext} {
		_, fromRes := record(RC4|Plaintext, []byte("initial"), sel)
		seeds = append(seeds, gen{"valid-" + sel.String(), "FuzzInitiate", fromRes})
	}
	for _, s := range seeds {
		path := filepath.Join("testdata", "fuzz", s.target, s.name)
		if os.Getenv("MSE_WRITE_SEEDS") == "1" {
			os.MkdirAll(filepath.Dir(path), 0o755)
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s.data)))
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (regenerate with MSE_WRITE_SEEDS=1)", err)
		}
		lines := bytes.SplitN(raw, []byte("\n"), 3)
		q := bytes.TrimSuffix(bytes.TrimPrefix(lines[1], []byte("[]byte(")), []byte(")"))
		data, err := strconv.Unquote(string(q))
		if err != nil {
			t.Fatal(err)
		}
		conn := &feedConn{r: bytes.NewReader([]byte(data))}
		if s.target == "FuzzRespond" {
			_, err = respond(context.Background(), conn, lookupOne(testInfoHash), Prefer.Select, seeded(fuzzResponderSeed))
		} else {
			_, err = initiate(context.Background(), conn, testInfoHash, RC4|Plaintext, []byte("initial"), seeded(fuzzInitiatorSeed))
		}
		if err != nil {
			t.Fatalf("%s/%s no longer completes: %v (regenerate with MSE_WRITE_SEEDS=1)", s.target, s.name, err)
		}
	}
}
