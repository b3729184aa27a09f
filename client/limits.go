package client

// SetRateLimits sets the torrent's own limits (payload bytes per second;
// 0: unlimited), at once and for every later start; the client's limits
// (Client.SetRateLimits) apply on top. They are not recorded in the
// resume store: a front end that keeps them sets them again after New.
func (t *Torrent) SetRateLimits(down, up int) {
	down, up = max(down, 0), max(up, 0)
	t.mu.Lock()
	t.limits = [2]int{down, up}
	s := t.sess
	t.mu.Unlock()
	if s != nil {
		s.SetRateLimits(down, up)
	}
}

// RateLimits returns the torrent's own limits (0: unlimited).
func (t *Torrent) RateLimits() (down, up int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.limits[0], t.limits[1]
}
