package tracker

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeTrackers answers HTTP announces by host: hosts in ok answer, others fail.
func fakeTrackers(ok map[string]bool, log *[]string, mu *sync.Mutex) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		*log = append(*log, r.URL.Host)
		mu.Unlock()
		if !ok[r.URL.Host] {
			return nil, errors.New("connection refused")
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("d8:intervali60ee")), Request: r}, nil
	})
}

func TestTiersFallThroughAndPromote(t *testing.T) {
	var log []string
	var mu sync.Mutex
	ok := map[string]bool{"b2": true, "c1": true}
	c := NewClient(Options{Transport: fakeTrackers(ok, &log, &mu)})
	tiers := NewTiers([][]string{
		{"http://a1/announce", "http://a2/announce", "ftp://bad/", "http://a1/announce"},
		{"http://b1/announce", "http://b2/announce"},
		{"http://c1/announce"},
		{},
	}, rand.New(rand.NewPCG(1, 2)))
	if tiers.Len() != 5 {
		t.Fatalf("len %d (bad and duplicate URLs must be dropped)", tiers.Len())
	}
	_, u, err := tiers.Announce(context.Background(), c, AnnounceRequest{Port: 1})
	if err != nil || u != "http://b2/announce" {
		t.Fatalf("%s %v", u, err)
	}
	// Tier 1 was tried fully (both), then tier 2 until b2 answered.
	if len(log) < 3 || !slices.Contains(log[:2], "a1") || !slices.Contains(log[:2], "a2") || log[len(log)-1] != "b2" {
		t.Fatalf("order %v", log)
	}
	if l := tiers.List(); l[1][0] != "http://b2/announce" {
		t.Fatalf("b2 not promoted: %v", l)
	}
	// Next time b2 is tried first in its tier.
	log = nil
	ok["b2"] = false
	_, u, err = tiers.Announce(context.Background(), c, AnnounceRequest{Port: 1})
	if err != nil || u != "http://c1/announce" {
		t.Fatalf("%s %v", u, err)
	}
	if i := slices.Index(log, "b2"); i < 0 || log[i+1] != "b1" {
		t.Fatalf("order %v", log)
	}
	// All down: a TierError naming every tracker.
	ok["c1"] = false
	_, _, err = tiers.Announce(context.Background(), c, AnnounceRequest{Port: 1})
	var te *TierError
	if !errors.As(err, &te) || len(te.Errs) != 5 {
		t.Fatalf("%v", err)
	}
	if _, _, err := NewTiers(nil, nil).Announce(context.Background(), c, AnnounceRequest{}); !errors.Is(err, ErrNoTrackers) {
		t.Fatalf("%v", err)
	}
}

func TestTiersShuffle(t *testing.T) {
	in := [][]string{{"http://1/a", "http://2/a", "http://3/a", "http://4/a", "http://5/a", "http://6/a"}}
	seen := map[string]bool{}
	for i := range uint64(20) {
		l := NewTiers(in, rand.New(rand.NewPCG(i, i))).List()[0]
		seen[strings.Join(l, ",")] = true
		s := slices.Clone(l)
		slices.Sort(s)
		if !slices.Equal(s, in[0]) {
			t.Fatalf("shuffle lost entries: %v", l)
		}
	}
	if len(seen) < 2 {
		t.Fatal("tier never shuffled")
	}
}
