package client

import (
	"errors"
	"fmt"
	"slices"

	"github.com/effusion-bt/effusion/session"
	"github.com/effusion-bt/effusion/webseed"
)

// AddWebSeeds adds web seed URLs (BEP 19) to the torrent, beside its
// url-list: remembered across restarts and, while the torrent runs, used
// at once if pieces are missing. URLs already known are skipped (at most
// session.MaxWebSeeds are kept). If a URL is unusable it returns an error
// wrapping webseed.ErrBadURL and adds none; ErrClosed after Remove or
// Shutdown.
func (t *Torrent) AddWebSeeds(urls ...string) error {
	for _, u := range urls {
		if err := webseed.CheckURL(u); err != nil {
			return fmt.Errorf("client: web seed: %w", err)
		}
	}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	before := len(t.meta.ExtraSeeds)
	t.meta.ExtraSeeds = addNew(t.meta.ExtraSeeds, urls)
	added := slices.Clone(t.meta.ExtraSeeds[before:])
	if len(added) > 0 {
		t.c.saveLocked(t, false)
	}
	s := t.sess
	t.mu.Unlock()
	if s == nil || len(added) == 0 {
		return nil
	}
	if err := s.AddWebSeeds(added...); err != nil && !errors.Is(err, session.ErrStopped) {
		return err
	}
	return nil // a stopped session's successor starts with them
}

// addNew appends the URLs of urls not in dst, up to session.MaxWebSeeds in
// all.
func addNew(dst, urls []string) []string {
	for _, u := range urls {
		if len(dst) < session.MaxWebSeeds && !slices.Contains(dst, u) {
			dst = append(dst, u)
		}
	}
	return dst
}
