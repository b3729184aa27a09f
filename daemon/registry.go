package daemon

import (
	"encoding/hex"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/effusion-bt/effusion/client"
)

// recentWindow is what "recently-active" means: torrents active or
// changed, and torrents removed, within this long (Transmission's 60 s).
const recentWindow = time.Minute

// entry is one torrent as the RPC sees it: the client's torrent and its
// Transmission id, with what the sampler learnt about it.
type entry struct {
	id   int
	t    *client.Torrent
	ih   [20]byte
	hash string // hex of ih, as hashString

	verifying atomic.Bool // a torrent-verify runs (status "check-wait")

	// Guarded by registry.mu.
	base    [2]int64     // downloaded, uploaded when this run first saw it
	last    [2]int64     // downloaded, uploaded at the last sample
	state   client.State // at the last sample
	active  time.Time    // when the totals last changed (activityDate)
	changed time.Time    // when it was added or changed state
	started time.Time    // when it last started (startDate)
	done    time.Time    // when this run first saw it complete
}

type removal struct {
	id int
	at time.Time
}

// registry numbers the client's torrents with Transmission ids, stable for
// the daemon's run: the torrents the client had at start in the order
// they were added, then new ones as they come.
type registry struct {
	c *client.Client

	mu       sync.Mutex
	byID     map[int]*entry
	byHash   map[[20]byte]*entry
	list     []*entry // by id
	next     int
	removed  []removal // within recentWindow
	goneDown int64     // this run's transfer by torrents removed since
	goneUp   int64
}

func newRegistry(c *client.Client, now time.Time) *registry {
	r := &registry{c: c, byID: map[int]*entry{}, byHash: map[[20]byte]*entry{}, next: 1}
	for _, t := range c.Torrents() {
		e := r.add(t, now)
		st := t.Stats()
		e.base = [2]int64{st.Downloaded, st.Uploaded}
		e.last = e.base
		e.state = st.State
		e.active = time.Time{}
	}
	return r
}

// add registers t (if it is new) and returns its entry.
func (r *registry) add(t *client.Torrent, now time.Time) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	ih := t.InfoHash()
	if e := r.byHash[ih]; e != nil {
		return e
	}
	e := &entry{id: r.next, t: t, ih: ih, hash: hex.EncodeToString(ih[:]), changed: now, started: now, active: now}
	r.next++
	r.byID[e.id] = e
	r.byHash[ih] = e
	r.list = append(r.list, e)
	return e
}

// forget unregisters e, remembering its removal for recently-active.
func (r *registry) forget(e *entry, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[e.id] != e {
		return
	}
	delete(r.byID, e.id)
	delete(r.byHash, e.ih)
	if i := slices.Index(r.list, e); i >= 0 {
		r.list = slices.Delete(r.list, i, i+1)
	}
	r.goneDown += e.last[0] - e.base[0]
	r.goneUp += e.last[1] - e.base[1]
	r.removed = append(r.removed, removal{e.id, now})
}

// all returns every entry, by id.
func (r *registry) all() []*entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

func (r *registry) byIDs(id int) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

func (r *registry) byInfoHash(ih [20]byte) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byHash[ih]
}

// recent returns the entries active or changed since cutoff, and the ids
// removed since.
func (r *registry) recent(cutoff time.Time) ([]*entry, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var es []*entry
	for _, e := range r.list {
		if e.active.After(cutoff) || e.changed.After(cutoff) {
			es = append(es, e)
		}
	}
	var ids []int
	for _, rm := range r.removed {
		if rm.at.After(cutoff) {
			ids = append(ids, rm.id)
		}
	}
	return es, ids
}

// touch marks e changed now (a user action).
func (r *registry) touch(e *entry, now time.Time, started bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.changed = now
	if started {
		e.started = now
	}
}

// observe records a sample of e: activity when its totals moved, a change
// when its state did.
func (r *registry) observe(e *entry, st client.Stats, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tot := [2]int64{st.Downloaded, st.Uploaded}
	if tot != e.last {
		e.active = now
		e.last = tot
	}
	if st.Left == 0 && st.PiecesHave > 0 && e.done.IsZero() {
		e.done = now
	}
	if st.State != e.state {
		if st.State == client.Downloading || st.State == client.Seeding {
			if e.state == client.Paused || e.state == client.Failed {
				e.started = now
			}
		}
		e.state = st.State
		e.changed = now
	}
}

// times returns e's dates.
func (r *registry) times(e *entry) (active, started, done time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return e.active, e.started, e.done
}

// prune drops removals older than cutoff.
func (r *registry) prune(cutoff time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := 0
	for i < len(r.removed) && !r.removed[i].at.After(cutoff) {
		i++
	}
	r.removed = slices.Delete(r.removed, 0, i)
}

// sessionDown and sessionUp are the payload bytes moved during this run,
// as of the last sample.
func (r *registry) sessionDown() int64 { return r.sessionTotal(0) }
func (r *registry) sessionUp() int64   { return r.sessionTotal(1) }

func (r *registry) sessionTotal(i int) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.goneDown
	if i == 1 {
		n = r.goneUp
	}
	for _, e := range r.list {
		n += e.last[i] - e.base[i]
	}
	return n
}

// sampleInterval is how often the sampler looks at every torrent.
const sampleInterval = 2 * time.Second

// sampleLoop samples until Shutdown.
func (d *Daemon) sampleLoop() {
	defer d.bg.Done()
	tick := time.NewTicker(sampleInterval)
	defer tick.Stop()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-tick.C:
			d.sample()
		}
	}
}

// sample looks at every torrent once: activity, state changes, the
// session's totals.
func (d *Daemon) sample() {
	now := time.Now()
	for _, e := range d.reg.all() {
		d.reg.observe(e, e.t.Stats(), now)
	}
	d.reg.prune(now.Add(-recentWindow))
}
