package mse

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/effusion-bt/effusion/internal/testpeer"
)

// The inputs of testdata/vectors.json: two 160-bit private keys (top bit
// set, as newDHKey draws them) and the info-hash.
const (
	vecXA = "9c3f5a7e1b2d4c6f8091a2b3c4d5e6f708192a3b"
	vecXB = "d1e2f30415263748596a7b8c9dae0f1021324354"
	vecIH = "deadbeef0102030405060708090a0b0c0d0e0f10"
)

func loadVectors(t *testing.T, raw []byte) map[string][]byte {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]byte)
	for k, v := range m {
		b, err := hex.DecodeString(v)
		if err != nil {
			t.Fatal(k, err)
		}
		out[k] = b
	}
	return out
}

// TestVectorsIndependent: testdata/vectors.json is what the independent
// Python computation (standard library only) prints for the fixed inputs,
// so the fixed vectors below are not our own output.
func TestVectorsIndependent(t *testing.T) {
	py := testpeer.Require(t, "python3")
	out, err := exec.Command(py, "testdata/mse_vectors.py", vecXA, vecXB, vecIH).Output()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	got, want := loadVectors(t, out), loadVectors(t, raw)
	for k, v := range want {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("%s: the script now prints %x, the committed vectors say %x", k, got[k], v)
		}
	}
}

// TestVectors checks the key exchange, every derived value and the exact
// bytes of both sides of a handshake against testdata/vectors.json.
func TestVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	v := loadVectors(t, raw)
	xa, _ := hex.DecodeString(vecXA)
	xb, _ := hex.DecodeString(vecXB)
	var ih [20]byte
	hex.Decode(ih[:], []byte(vecIH))
	// The random stream our side draws: the private key, then a padding
	// length of 0.
	rnd := func(x []byte) io.Reader { return bytes.NewReader(append(append([]byte(nil), x...), 0, 0)) }

	ka, err := newDHKey(rnd(xa))
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := newDHKey(rnd(xb))
	s, err := ka.shared(kb.pub[:])
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := kb.shared(ka.pub[:])
	sec := deriveSecrets(&s)
	keyA, keyB := streamKeys(&s, ih)
	skh := SKeyHash(ih)
	for name, got := range map[string][]byte{
		"ya": ka.pub[:], "yb": kb.pub[:], "s": s[:], "req1": sec.req1[:], "req3": sec.req3[:],
		"skeyhash": skh[:], "keyA": keyA[:], "keyB": keyB[:],
	} {
		if !bytes.Equal(got, v[name]) {
			t.Fatalf("%s: %x, want %x", name, got, v[name])
		}
	}
	if s != s2 {
		t.Fatal("the two sides derive different secrets")
	}

	// Our initiator, answered with the script's responder bytes.
	conn := &feedConn{r: bytes.NewReader(concat(v["yb"], v["step4"], v["encB"]))}
	c, err := initiate(context.Background(), conn, ih, RC4|Plaintext, v["ia"], rnd(xa))
	if err != nil {
		t.Fatal(err)
	}
	if want := concat(v["ya"], v["step3"]); !bytes.Equal(conn.out.Bytes(), want) {
		t.Fatalf("initiator sent\n%x\nwant\n%x", conn.out.Bytes(), want)
	}
	checkStream(t, c, conn, v["msgB"], v["msgA"], v["encA"])

	// Our responder, sent the script's initiator bytes.
	conn = &feedConn{r: bytes.NewReader(concat(v["ya"], v["step3"], v["encA"]))}
	c, err = respond(context.Background(), conn, lookupOne(ih), Require.Select, rnd(xb))
	if err != nil {
		t.Fatal(err)
	}
	if want := concat(v["yb"], v["step4"]); !bytes.Equal(conn.out.Bytes(), want) {
		t.Fatalf("responder sent\n%x\nwant\n%x", conn.out.Bytes(), want)
	}
	ia := make([]byte, len(v["ia"]))
	if _, err := io.ReadFull(c, ia); err != nil || !bytes.Equal(ia, v["ia"]) {
		t.Fatalf("initial payload %x: %v", ia, err)
	}
	checkStream(t, c, conn, v["msgA"], v["msgB"], v["encB"])
}

// checkStream reads the peer's message and checks what our message
// encrypts to.
func checkStream(t *testing.T, c *Conn, conn *feedConn, in, out, outEnc []byte) {
	t.Helper()
	got := make([]byte, len(in))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("read %q: %v", got, err)
	}
	conn.out.Reset()
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(conn.out.Bytes(), outEnc) {
		t.Fatalf("%q encrypted to %x, want %x", out, conn.out.Bytes(), outEnc)
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
