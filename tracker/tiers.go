package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Tiers is a BEP 12 multitracker list: trackers are tried tier by tier, in
// order within a tier; each tier is shuffled once at creation; a tracker that
// answers moves to the front of its tier. It also remembers each tracker's
// tracker id. Tiers is safe for concurrent use, but announces through it are
// meant to be sequential (one announcer per torrent).
type Tiers struct {
	mu    sync.Mutex
	tiers [][]string
	ids   map[string]string // tracker URL -> tracker id it gave us
}

// NewTiers copies tiers, drops unusable URLs (see ParseTrackerURL) and
// duplicates and empty tiers, and shuffles each tier with rnd (nil: a random source).
func NewTiers(tiers [][]string, rnd *rand.Rand) *Tiers {
	seen := make(map[string]bool)
	var out [][]string
	for _, tier := range tiers {
		var t []string
		for _, u := range tier {
			if seen[u] {
				continue
			}
			if _, err := ParseTrackerURL(u); err != nil {
				continue
			}
			seen[u] = true
			t = append(t, u)
		}
		if len(t) == 0 {
			continue
		}
		shuffle := rand.Shuffle
		if rnd != nil {
			shuffle = rnd.Shuffle
		}
		shuffle(len(t), func(i, j int) { t[i], t[j] = t[j], t[i] })
		out = append(out, t)
	}
	return &Tiers{tiers: out, ids: make(map[string]string)}
}

// List returns a copy of the current order.
func (t *Tiers) List() [][]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([][]string, len(t.tiers))
	for i, tier := range t.tiers {
		out[i] = append([]string(nil), tier...)
	}
	return out
}

// Len returns the number of usable trackers.
func (t *Tiers) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, tier := range t.tiers {
		n += len(tier)
	}
	return n
}

// TierError collects the per-tracker failures of a full pass over the tiers.
// It wraps ErrNoTrackers when there were no trackers to try, and each attempt's error.
type TierError struct {
	Errs map[string]error // tracker URL -> why it failed
}

func (e *TierError) Error() string {
	if len(e.Errs) == 0 {
		return ErrNoTrackers.Error()
	}
	return fmt.Sprintf("tracker: all %d trackers failed: %v", len(e.Errs), errors.Join(e.unwrap()...))
}

func (e *TierError) unwrap() []error {
	var errs []error
	for _, err := range e.Errs {
		errs = append(errs, err)
	}
	return errs
}

// Unwrap returns the individual errors (ErrNoTrackers when there were none).
func (e *TierError) Unwrap() []error {
	if len(e.Errs) == 0 {
		return []error{ErrNoTrackers}
	}
	return e.unwrap()
}

// Announce sends req to the first tracker that answers, in tier order, and
// returns its response and URL. The tracker id a tracker gave earlier is filled
// in. It stops early when ctx ends. When every tracker fails the error is a
// *TierError (errors.Is(err, context.Canceled) etc. see through it).
func (t *Tiers) Announce(ctx context.Context, c *Client, req AnnounceRequest) (*AnnounceResponse, string, error) {
	terr := &TierError{Errs: make(map[string]error)}
	for ti, tier := range t.List() {
		for _, u := range tier {
			if err := ctx.Err(); err != nil {
				terr.Errs[u] = err
				return nil, "", terr
			}
			r := req
			t.mu.Lock()
			r.TrackerID = t.ids[u]
			t.mu.Unlock()
			resp, err := c.Announce(ctx, u, r)
			if err != nil {
				terr.Errs[u] = err
				continue
			}
			t.succeeded(ti, u, resp.TrackerID)
			return resp, u, nil
		}
	}
	return nil, "", terr
}

// AnnounceTo sends req to one tracker only (used for "stopped", which goes to
// the tracker that knows us), filling in its tracker id.
func (t *Tiers) AnnounceTo(ctx context.Context, c *Client, u string, req AnnounceRequest) (*AnnounceResponse, error) {
	t.mu.Lock()
	req.TrackerID = t.ids[u]
	t.mu.Unlock()
	return c.Announce(ctx, u, req)
}

// succeeded moves u to the front of tier ti and records its tracker id.
func (t *Tiers) succeeded(ti int, u, trackerID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if trackerID != "" {
		t.ids[u] = trackerID
	}
	if ti >= len(t.tiers) {
		return
	}
	tier := t.tiers[ti]
	for i, v := range tier {
		if v == u {
			copy(tier[1:i+1], tier[:i])
			tier[0] = u
			return
		}
	}
}
