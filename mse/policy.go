package mse

import (
	"fmt"
	"strings"
)

// Policy is what a client accepts and attempts: the value of the
// `--encryption prefer|require|off` flag. The zero value is Prefer.
//
//	           outgoing                               incoming
//	Prefer     MSE offering RC4 and plaintext; if     plain, or MSE (plaintext chosen
//	           the peer does not answer MSE, plain    when offered, else RC4)
//	           on a new connection (see Dialer)
//	Require    MSE offering RC4 only; never plain     MSE choosing RC4 only; plain refused
//	Off        plain only                             plain only; MSE refused
//
// A Policy is a plain value, safe for concurrent use.
type Policy uint8

const (
	// Prefer obfuscates the handshake when the peer can (MSE) and falls
	// back to plain BitTorrent when it cannot; the stream is RC4 only when
	// the peer insists (libtorrent's default: prefer_rc4 off). The default.
	Prefer Policy = iota
	// Require speaks only RC4-encrypted MSE.
	Require
	// Off speaks only plain BitTorrent.
	Off
)

var policyNames = [...]string{Prefer: "prefer", Require: "require", Off: "off"}

// ParsePolicy parses "prefer", "require" or "off" (any case, surrounding
// space ignored). Anything else is an error naming the accepted values.
func ParsePolicy(s string) (Policy, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for p, name := range policyNames {
		if t == name {
			return Policy(p), nil
		}
	}
	return Prefer, fmt.Errorf("mse: unknown encryption policy %q (want prefer, require or off)", s)
}

// String returns the policy's flag value ("prefer", "require", "off").
func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Set parses s into p (flag.Value, and with Type the spf13/pflag Value).
func (p *Policy) Set(s string) error {
	v, err := ParsePolicy(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Type names the flag's value type in help texts (pflag.Value).
func (p *Policy) Type() string { return "prefer|require|off" }

// MarshalText returns String's result (encoding.TextMarshaler).
func (p Policy) MarshalText() ([]byte, error) {
	if int(p) >= len(policyNames) {
		return nil, fmt.Errorf("mse: invalid policy %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses as ParsePolicy does (encoding.TextUnmarshaler).
func (p *Policy) UnmarshalText(b []byte) error { return p.Set(string(b)) }

// Provide returns what an outgoing MSE handshake offers (crypto_provide):
// RC4 and Plaintext under Prefer, RC4 under Require, None under Off
// (which never starts MSE).
func (p Policy) Provide() Method {
	switch p {
	case Prefer:
		return RC4 | Plaintext
	case Require:
		return RC4
	}
	return None
}

// Select chooses the method of an incoming MSE handshake among those
// offered (crypto_provide; unknown bits are ignored). Under Require, RC4.
// Under Prefer, Plaintext when offered, else RC4: the handshake is
// obfuscated either way, and a stream left plain keeps the zero-copy upload
// path (libtorrent's default, prefer_rc4 off, chooses the same); a peer that
// wants RC4 offers only RC4. It returns an error wrapping ErrNoCommonMethod
// when nothing offered is acceptable, and ErrEncryptionOff under Off. Its
// signature is Respond's choose.
func (p Policy) Select(offered Method) (Method, error) {
	switch {
	case p == Off:
		return None, ErrEncryptionOff
	case offered&Plaintext != 0 && p == Prefer:
		return Plaintext, nil
	case offered&RC4 != 0 && (p == Prefer || p == Require):
		return RC4, nil
	}
	return None, fmt.Errorf("%w: offered %v, policy %v", ErrNoCommonMethod, offered, p)
}

// AcceptsPlain reports whether an incoming plain BitTorrent handshake is
// accepted (Prefer, Off).
func (p Policy) AcceptsPlain() bool { return p != Require }

// AcceptsMSE reports whether an incoming MSE handshake is answered
// (Prefer, Require).
func (p Policy) AcceptsMSE() bool { return p == Prefer || p == Require }
