package units

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax is wrapped by Parse's errors.
var ErrSyntax = errors.New("not a size")

// suffixes maps a unit (lower case) to its multiplier: the IEC names and
// the single letters are powers of 1024, as BitTorrent clients use them
// ("-u 500k"); "kb", "mb", "gb", "tb" are the SI powers of 1000. Longest
// first, so that "kib" is not read as "b".
var suffixes = []struct {
	name string
	mult int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// maxInput bounds what Parse looks at (no size needs more).
const maxInput = 64

// Parse reads a byte count: a decimal number, optionally with a fraction,
// then optionally blanks and a unit (B; KiB, MiB, GiB, TiB or K, M, G, T,
// powers of 1024; kB, MB, GB, TB, powers of 1000), in any case. "1.5GiB" is
// 1610612736; a fraction must come to a whole number of bytes. Errors wrap
// ErrSyntax for anything else, a negative number, or a count beyond
// math.MaxInt64; callers check their own bounds.
func Parse(s string) (int64, error) {
	if len(s) > maxInput {
		return 0, fmt.Errorf("%q: %w", s[:maxInput]+"...", ErrSyntax)
	}
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range suffixes {
		if rest, ok := strings.CutSuffix(t, u.name); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("%q: %w: negative", s, ErrSyntax)
	}
	// Digits and at most one point: ParseFloat would also take signs,
	// exponents, hexadecimal, "inf" and underscores.
	digits, points := 0, 0
	for _, c := range t {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
		}
	}
	if digits == 0 || points > 1 {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n > math.MaxInt64/mult {
			return 0, fmt.Errorf("%q: %w: too large", s, ErrSyntax)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q: %w: too large", s, ErrSyntax)
		}
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	v := f * float64(mult)
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: %w: too large", s, ErrSyntax)
	}
	if v != math.Trunc(v) {
		return 0, fmt.Errorf("%q: %w: not a whole number of bytes", s, ErrSyntax)
	}
	return int64(v), nil
}

// Format writes n bytes with the largest binary unit that keeps the number
// at least 1, rounded to one decimal, without a trailing ".0": "0 B",
// "1023 B", "1 KiB", "97.7 KiB", "1.5 GiB", "2 EiB". A negative n is
// written with a minus sign.
func Format(n int64) string {
	if n < 0 {
		if n == math.MinInt64 {
			return "-8 EiB"
		}
		return "-" + Format(-n)
	}
	return FormatFloat(float64(n))
}

// FormatFloat is Format for a fractional count, such as a rate in bytes
// per second; below 1024 it is rounded to whole bytes. NaN and negative
// values are written as "0 B".
func FormatFloat(b float64) string {
	if !(b > 0) {
		return "0 B"
	}
	const units = "KMGTPE"
	if r := math.Round(b); r < 1024 {
		return strconv.FormatFloat(r, 'f', -1, 64) + " B"
	}
	b /= 1024
	exp := 0
	for b >= 1024 && exp < len(units)-1 {
		b /= 1024
		exp++
	}
	v := math.Round(b*10) / 10
	if v >= 1024 && exp < len(units)-1 { // 1023.96 KiB is 1 MiB
		v, exp = math.Round(v/1024*10)/10, exp+1
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + " " + units[exp:exp+1] + "iB"
}
