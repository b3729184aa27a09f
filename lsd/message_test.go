package lsd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMessageRoundTrip(t *testing.T) {
	m := Message{Host: "239.192.152.143:6771", Port: 6881, InfoHashes: [][20]byte{{1}, {2}}, Cookie: "abc"}
	b := m.Append(nil)
	want := "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n" +
		"Infohash: 0100000000000000000000000000000000000000\r\nInfohash: 0200000000000000000000000000000000000000\r\n" +
		"cookie: abc\r\n\r\n\r\n"
	if string(b) != want {
		t.Fatalf("%q", b)
	}
	got, err := ParseMessage(b)
	if err != nil || got.Port != 6881 || len(got.InfoHashes) != 2 || got.InfoHashes[1] != m.InfoHashes[1] || got.Cookie != "abc" || got.Host != m.Host {
		t.Fatalf("%+v %v", got, err)
	}
	// A full message stays under BEP 14's 1400 bytes.
	m.InfoHashes = make([][20]byte, 50)
	m.Host = "[ff15::efc0:988f]:6771"
	m.Cookie = strings.Repeat("c", 64)
	if b := m.Append(nil); len(b) > 1400 || bytes.Count(b, []byte("Infohash")) != MaxInfoHashes {
		t.Fatalf("%d bytes", len(b))
	}
}

func TestParseMessageLenient(t *testing.T) {
	// LF line ends, other header case, extra headers, upper-case hex,
	// duplicates, no cookie (what other clients send).
	b := "BT-SEARCH * HTTP/1.1\nhost: 239.192.152.143:6771\nPORT: 51413\nX-Other: 1\n" +
		"INFOHASH: ABCDEF0123456789ABCDEF0123456789ABCDEF01\ninfohash: abcdef0123456789abcdef0123456789abcdef01\n\n\n"
	m, err := ParseMessage([]byte(b))
	if err != nil || m.Port != 51413 || len(m.InfoHashes) != 1 || m.Cookie != "" {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestParseMessageRefuses(t *testing.T) {
	ih := "Infohash: 0100000000000000000000000000000000000000\r\n"
	for why, s := range map[string]string{
		"request line": "M-SEARCH * HTTP/1.1\r\nPort: 1\r\n" + ih,
		"no port":      "BT-SEARCH * HTTP/1.1\r\n" + ih,
		"port 0":       "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\n" + ih,
		"port range":   "BT-SEARCH * HTTP/1.1\r\nPort: 65536\r\n" + ih,
		"no infohash":  "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n\r\n",
		"short hash":   "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: 01\r\n",
		"not hex":      "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: zz00000000000000000000000000000000000000\r\n",
		"no colon":     "BT-SEARCH * HTTP/1.1\r\nPort 1\r\n" + ih,
		"long cookie":  "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n" + ih + "cookie: " + strings.Repeat("x", 65) + "\r\n",
		"too long":     "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n" + ih + strings.Repeat("X: y\r\n", 400),
		"many lines":   "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n" + ih + strings.Repeat("\r\n", 70),
		"empty":        "",
		"lone CR":      "BT-SEARCH * HTTP/1.1\nPort:1\n" + ih + "Cookie:0\r0\n",
	} {
		if _, err := ParseMessage([]byte(s)); !errors.Is(err, ErrMessage) {
			t.Errorf("%s: %v", why, err)
		}
	}
}

func FuzzParseMessage(f *testing.F) {
	f.Add(Message{Host: "239.192.152.143:6771", Port: 6881, InfoHashes: [][20]byte{{1}}, Cookie: "x"}.Append(nil))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\nPORT: 1\ninfohash: ABCDEF0123456789ABCDEF0123456789ABCDEF01\n"))
	f.Add([]byte("BT-SEARCH * HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			if !errors.Is(err, ErrMessage) {
				t.Fatal(err)
			}
			return
		}
		if m.Port == 0 || len(m.InfoHashes) == 0 || len(m.InfoHashes) > MaxInfoHashes || len(m.Cookie) > maxCookie {
			t.Fatalf("accepted %+v", m)
		}
		// What we parse, we can send and parse back the same.
		if strings.ContainsAny(m.Host+m.Cookie, "\r\n") {
			t.Fatalf("header value holds a line break: %+v", m)
		}
		again, err := ParseMessage(m.Append(nil))
		if err != nil || again.Port != m.Port || len(again.InfoHashes) != len(m.InfoHashes) || again.Cookie != m.Cookie {
			t.Fatalf("round trip %+v -> %+v (%v)", m, again, err)
		}
	})
}

// TestSchedule: one message per gap, each torrent every interval, the
// most overdue first, at most MaxInfoHashes per message.
func TestSchedule(t *testing.T) {
	t0 := time.Unix(1e9, 0)
	s := newSchedule(5*time.Minute, time.Minute)
	if !s.next().IsZero() || s.take(t0) != nil {
		t.Fatal("empty schedule sends")
	}
	for i := range 30 {
		s.add([20]byte{byte(i)}, t0)
	}
	first := s.take(t0)
	if len(first) != MaxInfoHashes || first[0] != ([20]byte{0}) {
		t.Fatalf("first message %d", len(first))
	}
	if s.take(t0.Add(59*time.Second)) != nil || !s.next().Equal(t0.Add(time.Minute)) {
		t.Fatal("second message inside the gap")
	}
	second := s.take(t0.Add(time.Minute))
	if len(second) != 10 || second[0] != ([20]byte{20}) {
		t.Fatalf("second message %v", second)
	}
	if !s.next().Equal(t0.Add(5 * time.Minute)) {
		t.Fatalf("next %v", s.next().Sub(t0))
	}
	s.add([20]byte{99}, t0.Add(2*time.Minute)) // a new torrent goes out at the next slot
	if got := s.take(t0.Add(2 * time.Minute)); len(got) != 1 || got[0] != ([20]byte{99}) {
		t.Fatalf("new torrent %v", got)
	}
	s.remove([20]byte{99})
	if got := s.take(t0.Add(5 * time.Minute)); len(got) != MaxInfoHashes {
		t.Fatalf("after 5 min %d", len(got))
	}
}

func ExampleParseMessage() {
	m, err := ParseMessage([]byte("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n" +
		"Infohash: 0123456789abcdef0123456789abcdef01234567\r\ncookie: x\r\n\r\n\r\n"))
	fmt.Println(m.Port, len(m.InfoHashes), m.Cookie, err)
	// Output: 6881 1 x <nil>
}
