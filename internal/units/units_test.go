package units

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "1b": 1, "7 B": 7, " 16 KiB ": 16 << 10, "16k": 16 << 10, "16K": 16 << 10,
		"8M": 8 << 20, "256MiB": 256 << 20, "1GiB": 1 << 30, "1.5GiB": 3 << 29, "1.5G": 3 << 29, "2t": 2 << 40,
		"100kB": 100000, "5KB": 5000, "2MB": 2e6, "1.5GB": 15e8, "3TB": 3e12, "0.5k": 512, ".5k": 512, "1.": 1,
		"9223372036854775807": math.MaxInt64, "8388607TiB": 8388607 << 40,
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"": "", "MiB": "", "k": "", "abc": "", "1XB": "", "1.5": "not a whole number of bytes", "0.1k": "not a whole number of bytes",
		"-1": "negative", "-1MiB": "negative", "+1": "", "1e3": "", "0x10": "", "NaN": "", "Inf": "", "1_000": "", "1.2.3": "",
		".": "", "1 2": "", "99999999999GiB": "too large", "9223372036854775808": "too large", "8388608TiB": "too large",
		strings.Repeat("9", 400): "", "1k/s": "",
	} {
		got, err := Parse(in)
		if !errors.Is(err, ErrSyntax) || !strings.HasSuffix(err.Error(), msg) {
			t.Errorf("Parse(%q) = %d, %v; want an error ending %q", in, got, err, msg)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1: "1 B", 1023: "1023 B", 1 << 10: "1 KiB", 100005: "97.7 KiB", 256 << 20: "256 MiB",
		3 << 29: "1.5 GiB", 1<<20 - 1: "1 MiB", 1<<40 + 1<<39: "1.5 TiB", math.MaxInt64: "8 EiB", -2048: "-2 KiB",
		math.MinInt64: "-8 EiB",
	} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
	for b, want := range map[float64]string{
		0: "0 B", -5: "0 B", math.NaN(): "0 B", 0.4: "0 B", 1023.4: "1023 B", 1023.6: "1 KiB", 1536: "1.5 KiB",
		12.34 * (1 << 20): "12.3 MiB",
	} {
		if got := FormatFloat(b); got != want {
			t.Errorf("FormatFloat(%v) = %q, want %q", b, got, want)
		}
	}
}

// FuzzParse: any input gives a non-negative count or an error wrapping
// ErrSyntax, never a panic; a plain decimal integer parses to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"256MiB", "1.5GiB", "8M", "100kB", "4096", "-1", "1e3", "0x10", " 7 b ", "0.5k", "1.2.3k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && v >= 0 && s[0] != '+' && v != n {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		_ = Format(n)
	})
}
