package daemon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/statem"
)

// procIDs numbers the machines a listing showed, so that one can be
// watched by number; numbers of machines that ended are forgotten at the
// next listing.
type procIDs struct {
	mu   sync.Mutex
	next int64
	ids  map[statem.Inspectable]int64
	byID map[int64]statem.Inspectable
}

func newProcIDs() *procIDs {
	return &procIDs{next: 1, ids: map[statem.Inspectable]int64{}, byID: map[int64]statem.Inspectable{}}
}

func (p *procIDs) id(m statem.Inspectable) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.ids[m]; ok {
		return id
	}
	id := p.next
	p.next++
	p.ids[m] = id
	p.byID[id] = m
	return id
}

func (p *procIDs) lookup(id int64) (statem.Inspectable, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.byID[id]
	return m, ok
}

// prune forgets machines that ended.
func (p *procIDs) prune() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for m, id := range p.ids {
		select {
		case <-m.Done():
			delete(p.ids, m)
			delete(p.byID, id)
		default:
		}
	}
}

// ProcessInfo is one state machine in the processes view (and
// /debug/processes): its number (to watch it), kind, name and rendered
// status.
type ProcessInfo struct {
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	statem.Snapshot
}

// ProcessGroup is the machines working for one torrent (or, with an empty
// InfoHash, the client's own: the acceptor pool).
type ProcessGroup struct {
	InfoHash  string        `json:"infohash,omitempty"`
	Torrent   string        `json:"torrent,omitempty"`
	TorrentID int           `json:"torrent_id,omitempty"`
	Processes []ProcessInfo `json:"processes"`
}

// Processes is the whole view.
type Processes struct {
	TakenAt time.Time      `json:"taken_at"`
	Count   int            `json:"count"`
	Groups  []ProcessGroup `json:"groups"`
}

// inspectTimeout bounds a whole listing.
const inspectTimeout = 5 * time.Second

// processes lists and inspects every machine of the client, grouped by
// torrent. A machine that ended meanwhile is left out.
func (d *Daemon) processes(ctx context.Context) (Processes, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	ps, err := d.c.Processes(ctx)
	if err != nil {
		return Processes{}, err
	}
	d.procs.prune()
	out := Processes{TakenAt: time.Now()}
	var g *ProcessGroup
	var last [20]byte
	for i, p := range ps {
		snap, err := p.Machine.Inspect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return Processes{}, ctx.Err()
			}
			continue
		}
		if g == nil || i == 0 || p.InfoHash != last {
			grp := ProcessGroup{}
			if p.InfoHash != ([20]byte{}) {
				grp.InfoHash = hex.EncodeToString(p.InfoHash[:])
				grp.Torrent = p.Torrent
				if e := d.reg.byInfoHash(p.InfoHash); e != nil {
					grp.TorrentID = e.id
				}
			}
			out.Groups = append(out.Groups, grp)
			g = &out.Groups[len(out.Groups)-1]
			last = p.InfoHash
		}
		g.Processes = append(g.Processes, ProcessInfo{ID: d.procs.id(p.Machine), Kind: p.Kind, Name: p.Name, Snapshot: snap})
		out.Count++
	}
	return out, nil
}

// serveProcesses is GET /debug/processes: the view as JSON.
func (d *Daemon) serveProcesses(w http.ResponseWriter, r *http.Request) {
	ps, err := d.processes(r.Context())
	if err != nil {
		http.Error(w, "listing the processes: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(ps)
}

// maxWatchers bounds the live watches at once (each is a tracer on a
// machine and a stream).
const maxWatchers = 32

// watchBuffer is how many trace lines wait for a slow reader before new
// ones are dropped (and counted): the machine never waits for a watcher.
const watchBuffer = 512

// traceLine is one event of a watch stream.
type traceLine struct {
	At      time.Time `json:"at"`
	Line    string    `json:"line"`
	Dropped int64     `json:"dropped,omitempty"` // lines dropped before this one
}

// serveWatch is GET /debug/processes/{id}/events: the machine's trace,
// live, as Server-Sent Events ("snapshot" first, then one message per
// trace event, "end" when the machine ends). The tracer is on only while
// the stream is open.
func (d *Daemon) serveWatch(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad process number", http.StatusBadRequest)
		return
	}
	m, ok := d.procs.lookup(id)
	if !ok {
		http.Error(w, fmt.Sprintf("no process %d (list them at /debug/processes first)", id), http.StatusNotFound)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	select {
	case d.watchers <- struct{}{}:
		defer func() { <-d.watchers }()
	default:
		http.Error(w, "too many live watches", http.StatusServiceUnavailable)
		return
	}
	ctx := r.Context()
	snap, err := m.Inspect(ctx)
	if err != nil {
		http.Error(w, "the process has ended", http.StatusGone)
		return
	}
	lines := make(chan traceLine, watchBuffer)
	var mu sync.Mutex
	var dropped int64
	unwatch, err := m.Watch(ctx, func(te statem.TraceEvent) {
		// On the machine's goroutine: render, hand off, never wait.
		l := traceLine{At: time.Now(), Line: te.Summary()}
		mu.Lock()
		defer mu.Unlock()
		l.Dropped = dropped
		select {
		case lines <- l:
			dropped = 0
		default:
			dropped++
		}
	})
	if err != nil {
		http.Error(w, "the process has ended", http.StatusGone)
		return
	}
	defer unwatch()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	send := func(event string, v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !send("snapshot", snap) {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case l := <-lines:
			if !send("trace", l) {
				return
			}
		case <-m.Done():
			for len(lines) > 0 {
				send("trace", <-lines)
			}
			send("end", struct{}{})
			return
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-ctx.Done():
			return
		}
	}
}

// machineStates counts the machines by kind and state (for metrics).
func (d *Daemon) machineStates(ctx context.Context) map[[2]string]int {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	out := map[[2]string]int{}
	ps, err := d.c.Processes(ctx)
	if err != nil {
		return out
	}
	for _, p := range ps {
		snap, err := p.Machine.Inspect(ctx)
		if err != nil {
			continue
		}
		out[[2]string{p.Kind, snap.State}]++
	}
	return out
}
