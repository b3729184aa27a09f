package mse

import (
	"encoding"
	"errors"
	"flag"
	"io"
	"testing"
)

func TestPolicyParse(t *testing.T) {
	for s, want := range map[string]Policy{"prefer": Prefer, "require": Require, "off": Off, " Require ": Require, "OFF": Off} {
		p, err := ParsePolicy(s)
		if err != nil || p != want {
			t.Fatalf("%q: %v %v", s, p, err)
		}
	}
	for _, s := range []string{"", "on", "forced", "preferred", "2"} {
		if _, err := ParsePolicy(s); err == nil {
			t.Fatalf("%q accepted", s)
		}
	}
	var zero Policy
	if zero != Prefer || zero.String() != "prefer" {
		t.Fatal("the zero policy is not prefer")
	}
	if Policy(9).String() != "Policy(9)" {
		t.Fatal(Policy(9).String())
	}
	if _, err := Policy(9).MarshalText(); err == nil {
		t.Fatal("invalid policy marshalled")
	}
}

// TestPolicyFlag: a Policy works as a flag.Value and as text.
func TestPolicyFlag(t *testing.T) {
	var p Policy
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(&p, "encryption", "prefer|require|off")
	if err := fs.Parse([]string{"--encryption", "require"}); err != nil || p != Require {
		t.Fatal(p, err)
	}
	if err := fs.Parse([]string{"--encryption", "maybe"}); err == nil {
		t.Fatal("bad value accepted")
	}
	var _ encoding.TextUnmarshaler = &p
	b, err := Off.MarshalText()
	if err != nil || string(b) != "off" {
		t.Fatal(string(b), err)
	}
	if err := p.UnmarshalText([]byte("prefer")); err != nil || p != Prefer {
		t.Fatal(p, err)
	}
	if p.Type() == "" {
		t.Fatal("no type name")
	}
}

func TestPolicySelect(t *testing.T) {
	cases := []struct {
		p       Policy
		offered Method
		want    Method
		err     error
	}{
		{Prefer, RC4 | Plaintext, Plaintext, nil},
		{Prefer, Plaintext, Plaintext, nil},
		{Prefer, RC4 | 0x80, RC4, nil},
		{Prefer, 0x80, None, ErrNoCommonMethod},
		{Prefer, None, None, ErrNoCommonMethod},
		{Require, RC4 | Plaintext, RC4, nil},
		{Require, Plaintext, None, ErrNoCommonMethod},
		{Off, RC4 | Plaintext, None, ErrEncryptionOff},
	}
	for _, tc := range cases {
		got, err := tc.p.Select(tc.offered)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Fatalf("%v.Select(%v) = %v, %v", tc.p, tc.offered, got, err)
		}
	}
	if Prefer.Provide() != RC4|Plaintext || Require.Provide() != RC4 || Off.Provide() != None {
		t.Fatal("Provide")
	}
	if !Prefer.AcceptsPlain() || Require.AcceptsPlain() || !Off.AcceptsPlain() {
		t.Fatal("AcceptsPlain")
	}
	if !Prefer.AcceptsMSE() || !Require.AcceptsMSE() || Off.AcceptsMSE() {
		t.Fatal("AcceptsMSE")
	}
}

func TestMethodString(t *testing.T) {
	for m, want := range map[Method]string{None: "none", Plaintext: "plaintext", RC4: "rc4", RC4 | Plaintext: "plaintext|rc4", 0x12: "rc4|0x10"} {
		if m.String() != want {
			t.Fatalf("%d: %q", uint32(m), m.String())
		}
	}
}
