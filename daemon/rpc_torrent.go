package daemon

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
)

// actionTimeout bounds a start, stop or remove of many torrents; what is
// not done by then goes on in the background.
const actionTimeout = 30 * time.Second

// actionParallel is how many torrents start or stop at once (each stop
// tells its trackers, which may take seconds).
const actionParallel = 16

// each runs f on every entry, actionParallel at a time, and returns the
// first error.
func each(ctx context.Context, es []*entry, f func(ctx context.Context, e *entry) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, actionParallel)
	for _, e := range es {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, e); err != nil && !errors.Is(err, client.ErrClosed) {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// torrentStart answers torrent-start and torrent-start-now (there is no
// queue: both start at once).
func (d *Daemon) torrentStart(ctx context.Context, a args, _ *jw) error {
	sel, err := d.selectIDs(a)
	if err != nil {
		return err
	}
	now := time.Now()
	return each(ctx, sel.entries, func(ctx context.Context, e *entry) error {
		d.reg.touch(e, now, true)
		return e.t.Resume(ctx)
	})
}

// torrentStop answers torrent-stop: each torrent is paused (trackers told,
// files synced, recorded), and stays paused across restarts.
func (d *Daemon) torrentStop(ctx context.Context, a args, _ *jw) error {
	sel, err := d.selectIDs(a)
	if err != nil {
		return err
	}
	now := time.Now()
	return each(ctx, sel.entries, func(ctx context.Context, e *entry) error {
		d.reg.touch(e, now, false)
		return e.t.Pause(ctx)
	})
}

// torrentVerify answers torrent-verify: each torrent's data is checked
// again in the background (status 1, "check-wait", until its check
// starts, then 2).
func (d *Daemon) torrentVerify(_ context.Context, a args, _ *jw) error {
	sel, err := d.selectIDs(a)
	if err != nil {
		return err
	}
	for _, e := range sel.entries {
		if e.verifying.Swap(true) {
			continue // one verify at a time
		}
		d.reg.touch(e, time.Now(), false)
		d.bg.Add(1)
		go func() {
			defer d.bg.Done()
			defer e.verifying.Store(false)
			if err := e.t.Verify(d.ctx); err != nil && d.ctx.Err() == nil && !errors.Is(err, client.ErrClosed) {
				d.log.Error("torrent-verify", "torrent", e.t.Name(), "err", err)
			}
		}()
	}
	return nil
}

// torrentRemove answers torrent-remove, deleting the data with
// "delete-local-data".
func (d *Daemon) torrentRemove(ctx context.Context, a args, _ *jw) error {
	sel, err := d.selectIDs(a)
	if err != nil {
		return err
	}
	del, _, err := a.bool("delete_local_data")
	if err != nil {
		return err
	}
	opt := client.KeepData
	if del {
		opt = client.DeleteData
	}
	now := time.Now()
	err = each(ctx, sel.entries, func(ctx context.Context, e *entry) error {
		d.reg.observe(e, e.t.Stats(), now) // its totals as it goes, for the session's statistics
		d.reg.forget(e, now)
		d.st.forgetTorrent(e.hash)
		err := d.c.Remove(ctx, e.ih, opt)
		if errors.Is(err, client.ErrNotFound) {
			return nil
		}
		return err
	})
	if ferr := d.st.flush(); err == nil {
		err = ferr
	}
	return err
}

// queueMove answers the queue-move-* methods: there is no queue.
func (d *Daemon) queueMove(_ context.Context, a args, _ *jw) error {
	_, err := d.selectIDs(a)
	return err
}

// torrentAdd answers torrent-add: "metainfo" (base64) or "filename" (a
// magnet link, an allowed URL or a local .torrent), with "paused",
// "download-dir", "files-wanted"/"files-unwanted", "priority-*",
// "peer-limit", "bandwidthPriority" and "labels". The answer is
// "torrent-added", or "torrent-duplicate" for a torrent the daemon has.
func (d *Daemon) torrentAdd(ctx context.Context, a args, w *jw) error {
	meta, metaOK, err := a.str("metainfo")
	if err != nil {
		return err
	}
	name, nameOK, err := a.str("filename")
	if err != nil {
		return err
	}
	var src source
	switch {
	case metaOK && meta != "":
		src.mi, err = decodeMetainfo(meta)
	case nameOK && name != "":
		src, err = d.openFilename(ctx, name)
	default:
		return rpcErrorf(`torrent-add needs "metainfo" or "filename"`)
	}
	if err != nil {
		return err
	}
	ih := func() [20]byte {
		if src.magnet != nil {
			return src.magnet.InfoHash
		}
		return src.mi.InfoHash
	}()
	if e := d.reg.byInfoHash(ih); e != nil {
		writeAdded(w, "torrent-duplicate", e)
		return nil
	}
	s := d.st.get()
	dir, dirOK, err := a.str("download_dir")
	if err != nil {
		return err
	}
	if !dirOK || dir == "" {
		dir = s.DownloadDir
	} else if !filepath.IsAbs(dir) {
		return rpcErrorf("download directory path %q is not absolute", dir)
	}
	paused, pausedOK, err := a.bool("paused")
	if err != nil {
		return err
	}
	if !pausedOK {
		paused = !s.StartAddedTorrents
	}
	spec := client.Spec{Torrent: src.mi, Dir: filepath.Clean(dir), Paused: paused}
	if src.mi != nil {
		if spec.Priorities, err = addPriorities(a, &src.mi.Info); err != nil {
			return err
		}
	} else {
		// A magnet's files are known only once its metadata arrives: the
		// choices apply then (indices that do not exist are ignored).
		spec.Magnet = src.link
		if _, err := addPriorities(a, &metainfo.Info{}); err != nil && !isFileIndexError(err) {
			return err
		}
		spec.Select = func(info *metainfo.Info) []client.Priority {
			prios, _ := addPriorities(a, info)
			return prios
		}
	}
	var ts torrentSettings
	if ts.PeerLimit, _, err = a.int("peer_limit"); err != nil {
		return err
	}
	if ts.BandwidthPriority, _, err = a.int("bandwidth_priority"); err != nil {
		return err
	}
	if ts.Labels, _, err = a.strs("labels"); err != nil {
		return err
	}
	t, err := d.c.Add(ctx, spec)
	switch {
	case errors.Is(err, client.ErrExists):
		writeAdded(w, "torrent-duplicate", d.reg.add(t, time.Now()))
		return nil
	case t == nil:
		return rpcErrorf("torrent-add: %v", err)
	case err != nil:
		// Added, but its start failed (its directory, say): it is there,
		// failed, for the user to see and fix.
		d.log.Error("torrent-add: the torrent was added but did not start", "torrent", t.Name(), "err", err)
	}
	e := d.reg.add(t, time.Now())
	if src.mi == nil && spec.Select != nil && hasFileChoices(a) {
		d.bg.Add(1)
		go d.recordChoices(t, a)
	}
	if !ts.isZero() {
		d.st.updateTorrent(e.hash, func(p *torrentSettings) { *p = ts })
	}
	d.added.Add(1)
	if err := d.st.flush(); err != nil {
		d.log.Error("writing settings", "err", err)
	}
	d.log.Info("torrent added", "torrent", t.Name(), "infohash", e.hash, "id", e.id, "dir", dir, "paused", paused, "magnet", src.mi == nil)
	writeAdded(w, "torrent-added", e)
	return nil
}

func hasFileChoices(a args) bool {
	for _, k := range fileChoices {
		if a.has(k) {
			return true
		}
	}
	return false
}

// recordChoices gives a magnet's torrent, once its files are known, the
// file choices torrent-add was given, through the client (so that they
// are shown and kept across restarts; Spec.Select already gave them to
// the session).
func (d *Daemon) recordChoices(t *client.Torrent, a args) {
	defer d.bg.Done()
	select {
	case <-t.InfoReady():
	case <-d.ctx.Done():
		return
	}
	prios, err := addPriorities(a, &t.MetaInfo().Info)
	if err != nil {
		d.log.Warn("torrent-add: file choices for the magnet's files", "torrent", t.Name(), "err", err)
		return
	}
	if err := t.SetFilePriorities(prios); err != nil {
		d.log.Warn("torrent-add: file choices for the magnet's files", "torrent", t.Name(), "err", err)
	}
}

func writeAdded(w *jw, key string, e *entry) {
	w.key(key)
	w.obj()
	w.kint("id", int64(e.id))
	w.kstr("name", e.t.Name())
	w.kstr("hashString", e.hash)
	w.endObj()
}

// fileIndexes maps the RPC's file indices (positions in Files: padding
// files left out) to the torrent's own.
func fileIndexes(info *metainfo.Info) []int {
	var out []int
	for i, f := range info.Files {
		if !f.Padding {
			out = append(out, i)
		}
	}
	return out
}

// addPriorities reads torrent-add's file choices into one priority per
// file of the torrent (nil when none is given).
func addPriorities(a args, info *metainfo.Info) ([]client.Priority, error) {
	idx := fileIndexes(info)
	var prios []client.Priority
	for _, k := range fileChoices {
		list, ok, err := a.ints(k)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if prios == nil {
			prios = make([]client.Priority, len(info.Files))
		}
		targets, err := pickFiles(k, list, len(idx))
		if err != nil {
			return nil, err
		}
		for _, i := range targets {
			choose(k, &prios[idx[i]])
		}
	}
	return prios, nil
}

// fileChoices are the file arguments, in the order they apply: wanted
// and unwanted first, then priorities.
var fileChoices = []string{"files_wanted", "files_unwanted", "priority_high", "priority_normal", "priority_low"}

// choose applies file argument k to a file's priority. Wanted and
// priority are one choice here (Skip, Normal, High): a priority given to
// an unwanted file leaves it unwanted; "low" is normal.
func choose(k string, p *client.Priority) {
	switch k {
	case "files_wanted":
		if *p == client.Skip {
			*p = client.Normal
		}
	case "files_unwanted":
		*p = client.Skip
	case "priority_high":
		if *p != client.Skip {
			*p = client.High
		}
	default:
		if *p != client.Skip {
			*p = client.Normal
		}
	}
}

// pickFiles checks file indices against n files; an empty list means
// every file.
func pickFiles(k string, list []int64, n int) ([]int, error) {
	if len(list) == 0 {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	out := make([]int, 0, len(list))
	for _, v := range list {
		if v < 0 || v >= int64(n) {
			return nil, &fileIndexError{k, v, n}
		}
		out = append(out, int(v))
	}
	return out, nil
}

// fileIndexError: a file index beyond the torrent's files.
type fileIndexError struct {
	arg      string
	index    int64
	numFiles int
}

func (e *fileIndexError) Error() string {
	return fmt.Sprintf("argument %q: file %d does not exist (the torrent has %d files)", e.arg, e.index, e.numFiles)
}

func isFileIndexError(err error) bool {
	var fe *fileIndexError
	return errors.As(err, &fe)
}

// torrentSet answers torrent-set: file choices, speed limits and the
// other per-torrent settings. Arguments the daemon cannot act on yet
// ("location", tracker edits) are refused with a clear message, before
// anything changes.
func (d *Daemon) torrentSet(ctx context.Context, a args, _ *jw) error {
	for _, k := range []string{"location", "tracker_add", "tracker_remove", "tracker_replace", "tracker_list"} {
		if a.has(k) {
			return rpcErrorf("torrent-set: %q is not supported yet", k)
		}
	}
	sel, err := d.selectIDs(a)
	if err != nil {
		return err
	}
	as := &argSet{a: a}
	num := func(k string) (int64, bool) { return get(as, args.int, k) }
	flag := func(k string) (bool, bool) { return get(as, args.bool, k) }
	dl, dlOK := num("download_limit")
	dlOn, dlOnOK := flag("download_limited")
	ul, ulOK := num("upload_limit")
	ulOn, ulOnOK := flag("upload_limited")
	honors, honorsOK := flag("honors_session_limits")
	prio, prioOK := num("bandwidth_priority")
	peers, peersOK := num("peer_limit")
	ratioMode, ratioModeOK := num("seed_ratio_mode")
	idle, idleOK := num("seed_idle_limit")
	idleMode, idleModeOK := num("seed_idle_mode")
	ratio, ratioOK := get(as, args.float, "seed_ratio_limit")
	labels, labelsOK := get(as, args.strs, "labels")
	files := map[string][]int64{}
	for _, k := range fileChoices {
		if list, ok := get(as, args.ints, k); ok {
			files[k] = list
		}
	}
	if as.err != nil {
		return as.err
	}
	for _, e := range sel.entries {
		if len(files) > 0 {
			if err := d.setFiles(e, files); err != nil {
				return err
			}
		}
		d.st.updateTorrent(e.hash, func(ts *torrentSettings) {
			set(&ts.DownloadLimit, dl, dlOK)
			set(&ts.DownloadLimited, dlOn, dlOnOK)
			set(&ts.UploadLimit, ul, ulOK)
			set(&ts.UploadLimited, ulOn, ulOnOK)
			set(&ts.IgnoresSessionLimits, !honors, honorsOK)
			set(&ts.BandwidthPriority, prio, prioOK)
			set(&ts.PeerLimit, peers, peersOK)
			set(&ts.SeedRatioMode, ratioMode, ratioModeOK)
			set(&ts.SeedRatioLimit, ratio, ratioOK)
			set(&ts.SeedIdleLimit, idle, idleOK)
			set(&ts.SeedIdleMode, idleMode, idleModeOK)
			set(&ts.Labels, labels, labelsOK)
		})
		d.applyTorrentLimits(e)
		d.reg.touch(e, time.Now(), false)
	}
	return d.st.flush()
}

// setFiles applies file choices to one torrent (see choose).
func (d *Daemon) setFiles(e *entry, files map[string][]int64) error {
	cur := e.t.Files()
	want := make([]client.Priority, len(cur))
	for i, f := range cur {
		want[i] = f.Priority
	}
	for _, k := range fileChoices {
		list, ok := files[k]
		if !ok {
			continue
		}
		targets, err := pickFiles(k, list, len(cur))
		if err != nil {
			return err
		}
		for _, i := range targets {
			choose(k, &want[i])
		}
	}
	changed := false
	all := make([]client.Priority, len(e.t.MetaInfo().Info.Files))
	for i, f := range cur {
		all[f.Index] = want[i]
		changed = changed || want[i] != f.Priority
	}
	if !changed {
		return nil
	}
	if err := e.t.SetFilePriorities(all); err != nil && !errors.Is(err, client.ErrClosed) {
		return rpcErrorf("torrent-set: %v", err)
	}
	return nil
}
