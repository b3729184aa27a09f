package mse

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"testing"
)

// TestRespondHostile feeds our responder what a broken or hostile
// initiator sends: each case must end in its typed error, having read no
// more than the spec's bounds.
func TestRespondHostile(t *testing.T) {
	ok := fakeIni{skey: testInfoHash, provide: RC4 | Plaintext, iaLen: -1}
	with := func(f func(*fakeIni)) fakeIni { g := ok; f(&g); return g }
	cases := []struct {
		name string
		ini  fakeIni
		raw  []byte // sent instead of a scripted initiator when set
		want error  // nil: success
	}{
		{"valid", ok, nil, nil},
		{"PadA 512 (the sync marker at the last allowed offset)", with(func(f *fakeIni) { f.padA = MaxPad }), nil, nil},
		{"PadA 513", with(func(f *fakeIni) { f.padA = MaxPad + 1 }), nil, ErrSyncNotFound},
		{"garbage", fakeIni{}, bytes.Repeat([]byte{0x5a, 0xa5, 0x33}, 400), ErrSyncNotFound},
		{"short key", fakeIni{}, make([]byte, 50), ErrShortKey},
		{"no key", fakeIni{}, []byte{}, ErrShortKey},
		{"key 0", with(func(f *fakeIni) { f.pub = make([]byte, KeyLen) }), nil, ErrBadPublicKey},
		{"key 1", with(func(f *fakeIni) { f.pub = bigBytes(big.NewInt(1)) }), nil, ErrBadPublicKey},
		{"key P-1", with(func(f *fakeIni) { f.pub = bigBytes(primeMinus1) }), nil, ErrBadPublicKey},
		{"key P", with(func(f *fakeIni) { f.pub = bigBytes(prime) }), nil, ErrBadPublicKey},
		{"key 2^768-1", with(func(f *fakeIni) { f.pub = bytes.Repeat([]byte{0xff}, KeyLen) }), nil, ErrBadPublicKey},
		{"unknown torrent", with(func(f *fakeIni) { f.skey[0] ^= 1 }), nil, ErrUnknownSKey},
		{"bad VC", with(func(f *fakeIni) { f.badVC = true }), nil, ErrBadVC},
		{"provide nothing", with(func(f *fakeIni) { f.provide = 0 }), nil, ErrNoCommonMethod},
		{"provide unknown", with(func(f *fakeIni) { f.provide = 0x10 }), nil, ErrNoCommonMethod},
		{"PadC 512", with(func(f *fakeIni) { f.padC = MaxPad }), nil, nil},
		{"PadC 513", with(func(f *fakeIni) { f.padC = MaxPad + 1 }), nil, ErrPadTooLong},
		{"PadC 65535", with(func(f *fakeIni) { f.padC = 65535 }), nil, ErrPadTooLong},
		{"IA longer than sent", with(func(f *fakeIni) { f.ia = []byte("abc"); f.iaLen = 1000 }), nil, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			cb := &countConn{Conn: b}
			go func() {
				if tc.raw != nil {
					a.Write(tc.raw)
				} else {
					tc.ini.run(a)
				}
				a.(interface{ CloseWrite() error }).CloseWrite()
			}()
			c, err := Respond(testCtx(t), cb, lookupOne(testInfoHash), Require.Select)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Method() != RC4 {
					t.Fatalf("method %v", c.Method())
				}
				return
			}
			var he *HandshakeError
			if !errors.Is(err, tc.want) || !errors.As(err, &he) || he.Initiator {
				t.Fatalf("error %v, want %v in a responder's *HandshakeError", err, tc.want)
			}
			// Before the sync marker is found nothing is read past Ya,
			// 512 bytes of padding and the 20-byte marker.
			if errors.Is(err, ErrSyncNotFound) && cb.read.Load() > KeyLen+MaxPad+20 {
				t.Fatalf("read %d bytes looking for the marker", cb.read.Load())
			}
			t.Logf("%v", err)
		})
	}
}

// TestInitiateHostile feeds our initiator what a broken or hostile
// responder sends.
func TestInitiateHostile(t *testing.T) {
	cases := []struct {
		name    string
		provide Method
		res     fakeRes
		want    error
	}{
		{"valid", RC4, fakeRes{selected: RC4}, nil},
		{"PadB 512", RC4, fakeRes{padB: MaxPad, selected: RC4}, nil},
		{"PadD 512", RC4, fakeRes{selected: RC4, padD: MaxPad}, nil},
		{"PadD 513", RC4, fakeRes{selected: RC4, padD: MaxPad + 1}, ErrPadTooLong},
		{"selects what we did not offer", Plaintext, fakeRes{selected: RC4}, ErrBadSelect},
		{"selects both", RC4 | Plaintext, fakeRes{selected: RC4 | Plaintext}, ErrBadSelect},
		{"selects nothing", RC4 | Plaintext, fakeRes{selected: 0}, ErrBadSelect},
		{"selects an unknown method", RC4 | Plaintext, fakeRes{selected: 0x04}, ErrBadSelect},
		{"noise instead of VC", RC4, fakeRes{garbage: 2000}, ErrSyncNotFound},
		{"closes like a plaintext-only peer", RC4, fakeRes{closeAt: 68}, ErrShortKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := tcpPair(t)
			ca := &countConn{Conn: a}
			go func() {
				tc.res.run(b)
				b.(interface{ CloseWrite() error }).CloseWrite()
			}()
			c, err := Initiate(testCtx(t), ca, testInfoHash, tc.provide, []byte("ia"))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Method() != tc.res.selected {
					t.Fatalf("method %v", c.Method())
				}
				return
			}
			var he *HandshakeError
			if !errors.Is(err, tc.want) || !errors.As(err, &he) || !he.Initiator {
				t.Fatalf("error %v, want %v in an initiator's *HandshakeError", err, tc.want)
			}
			if errors.Is(err, ErrSyncNotFound) && ca.read.Load() > KeyLen+MaxPad+vcLen {
				t.Fatalf("read %d bytes looking for the marker", ca.read.Load())
			}
			t.Logf("%v", err)
		})
	}
}
