package daemon

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/tracker"
)

// Transmission's status numbers (RPC 14 and later).
const (
	trStopped      = 0
	trCheckWait    = 1
	trCheck        = 2
	trDownloadWait = 3
	trDownload     = 4
	trSeedWait     = 5
	trSeed         = 6
)

// Transmission's error numbers.
const (
	trErrNone  = 0
	trErrLocal = 3
)

// Special values of eta and uploadRatio.
const (
	etaNotAvailable = -1
	etaUnknown      = -2
	ratioNA         = -1
	ratioInf        = -2
)

// view is one torrent being written by torrent-get: what several fields
// need is computed once, on first use.
type view struct {
	d   *Daemon
	e   *entry
	ctx context.Context
	now time.Time

	st    client.Stats
	stOK  bool
	mi    *metainfo.MetaInfo // nil before a magnet's metadata
	miOK  bool
	files []client.File
	ts    *torrentSettings
	trk   *tracker.AnnouncerStatus
	trkOK bool
}

func (v *view) stats() *client.Stats {
	if !v.stOK {
		v.st, v.stOK = v.e.t.Stats(), true
	}
	return &v.st
}

// info returns the torrent's metainfo, nil while a magnet's metadata is
// being fetched (fields that need it then say "none").
func (v *view) info() *metainfo.MetaInfo {
	if !v.miOK {
		v.mi, v.miOK = v.e.t.MetaInfo(), true
	}
	return v.mi
}

// fromInfo reads f from the metainfo, or gives zero before it is known.
func fromInfo[T any](v *view, f func(mi *metainfo.MetaInfo) T) T {
	if mi := v.info(); mi != nil {
		return f(mi)
	}
	var zero T
	return zero
}

func (v *view) fileList() []client.File {
	if v.files == nil {
		v.files = v.e.t.Files()
	}
	return v.files
}

func (v *view) settings() *torrentSettings {
	if v.ts == nil {
		ts := v.d.st.torrent(v.e.hash)
		v.ts = &ts
	}
	return v.ts
}

func (v *view) tracker() (*tracker.AnnouncerStatus, bool) {
	if v.trk == nil {
		st, ok := v.e.t.TrackerStatus(v.ctx)
		v.trk, v.trkOK = &st, ok
	}
	return v.trk, v.trkOK
}

// field writes one torrent-get field's value.
type field func(w *jw, v *view)

// fields are torrent-get's fields by canonical name (see canon): every
// field of RPC 16, plus "labels" and effusion's "streams".
var fields map[string]field

func init() {
	fields = map[string]field{}
	def := func(name string, f field) { fields[canon(name)] = f }
	i64 := func(name string, f func(v *view) int64) { def(name, func(w *jw, v *view) { w.int(f(v)) }) }
	flt := func(name string, f func(v *view) float64) { def(name, func(w *jw, v *view) { w.float(f(v)) }) }
	bol := func(name string, f func(v *view) bool) { def(name, func(w *jw, v *view) { w.bool(f(v)) }) }
	str := func(name string, f func(v *view) string) { def(name, func(w *jw, v *view) { w.str(f(v)) }) }
	zero := func(names ...string) {
		for _, n := range names {
			i64(n, func(*view) int64 { return 0 })
		}
	}

	i64("id", func(v *view) int64 { return int64(v.e.id) })
	str("name", func(v *view) string { return v.e.t.Name() })
	str("hashString", func(v *view) string { return v.e.hash })
	i64("status", status)
	i64("error", func(v *view) int64 {
		if v.stats().State == client.Failed {
			return trErrLocal
		}
		return trErrNone
	})
	str("errorString", func(v *view) string {
		if st := v.stats(); st.State == client.Failed && st.Err != nil {
			return st.Err.Error()
		}
		return ""
	})
	i64("eta", eta)
	i64("etaIdle", func(*view) int64 { return etaNotAvailable })
	bol("isFinished", func(*view) bool { return false })
	bol("isStalled", func(v *view) bool {
		st := v.stats()
		return st.State == client.Downloading && st.Peers == 0
	})
	bol("isPrivate", func(v *view) bool { return fromInfo(v, func(mi *metainfo.MetaInfo) bool { return mi.Info.Private }) })
	i64("leftUntilDone", func(v *view) int64 { return v.stats().Left })
	i64("sizeWhenDone", func(v *view) int64 { return v.stats().Wanted })
	i64("totalSize", func(v *view) int64 { return v.stats().Length })
	i64("desiredAvailable", func(v *view) int64 {
		if st := v.stats(); st.Peers > 0 {
			return st.Left
		}
		return 0
	})
	i64("haveValid", haveValid)
	zero("haveUnchecked", "manualAnnounceTime", "queuePosition", "recheckProgress")
	i64("webseedsSendingToUs", func(v *view) int64 {
		n := int64(0)
		for _, w := range v.stats().WebSeeds {
			if w.DownloadRate > 0 {
				n++
			}
		}
		return n
	})
	i64("corruptEver", func(v *view) int64 {
		return int64(v.e.t.Counters().PiecesFailed) * fromInfo(v, func(mi *metainfo.MetaInfo) int64 { return mi.Info.PieceLength })
	})
	flt("percentDone", func(v *view) float64 {
		st := v.stats()
		if v.info() == nil {
			return 0
		}
		if st.Wanted == 0 {
			return 1
		}
		return float64(st.Wanted-st.Left) / float64(st.Wanted)
	})
	flt("percentComplete", func(v *view) float64 {
		st := v.stats()
		if st.PiecesTotal == 0 {
			return 0
		}
		return float64(st.PiecesHave) / float64(st.PiecesTotal)
	})
	flt("metadataPercentComplete", func(v *view) float64 {
		st := v.stats()
		switch {
		case v.info() != nil:
			return 1
		case st.MetadataPieces > 0:
			return float64(st.MetadataHave) / float64(st.MetadataPieces)
		}
		return 0
	})
	i64("rateDownload", func(v *view) int64 { return int64(v.stats().DownloadRate) })
	i64("rateUpload", func(v *view) int64 { return int64(v.stats().UploadRate) })
	i64("downloadedEver", func(v *view) int64 { return v.stats().Downloaded })
	i64("uploadedEver", func(v *view) int64 { return v.stats().Uploaded })
	flt("uploadRatio", ratio)
	i64("peersConnected", func(v *view) int64 { return int64(v.stats().Peers) })
	i64("peersGettingFromUs", func(v *view) int64 {
		n := 0
		for _, p := range v.stats().PeerStats {
			if p.UploadRate > 0 {
				n++
			}
		}
		return int64(n)
	})
	i64("peersSendingToUs", func(v *view) int64 {
		n := 0
		for _, p := range v.stats().PeerStats {
			if p.DownloadRate > 0 {
				n++
			}
		}
		return int64(n)
	})
	def("peersFrom", peersFrom)
	def("peers", peers)
	i64("addedDate", func(v *view) int64 { return unix(v.stats().Added) })
	i64("doneDate", func(v *view) int64 {
		if st := v.stats(); !st.Completed.IsZero() || st.Left > 0 {
			return unix(st.Completed)
		}
		// Complete, but the client records it only at its next
		// checkpoint: the daemon's own observation meanwhile.
		v.d.reg.observe(v.e, *v.stats(), v.now)
		_, _, done := v.d.reg.times(v.e)
		return unix(done)
	})
	i64("activityDate", func(v *view) int64 {
		a, _, _ := v.d.reg.times(v.e)
		return unix(a)
	})
	i64("startDate", func(v *view) int64 {
		if st := v.stats().State; st == client.Paused || st == client.Failed {
			return 0
		}
		_, s, _ := v.d.reg.times(v.e)
		return unix(s)
	})
	i64("dateCreated", func(v *view) int64 { return fromInfo(v, func(mi *metainfo.MetaInfo) int64 { return mi.CreationDate }) })
	i64("secondsDownloading", func(v *view) int64 {
		st := v.stats()
		end := v.now
		if !st.Completed.IsZero() {
			end = st.Completed
		}
		return int64(max(end.Sub(st.Added), 0) / time.Second)
	})
	i64("secondsSeeding", func(v *view) int64 {
		st := v.stats()
		if st.State != client.Seeding || st.Completed.IsZero() {
			return 0
		}
		return int64(max(v.now.Sub(st.Completed), 0) / time.Second)
	})
	str("comment", func(v *view) string { return fromInfo(v, func(mi *metainfo.MetaInfo) string { return mi.Comment }) })
	str("creator", func(v *view) string { return fromInfo(v, func(mi *metainfo.MetaInfo) string { return mi.CreatedBy }) })
	str("downloadDir", func(v *view) string { return v.e.t.Dir() })
	str("torrentFile", func(*view) string { return "" })
	str("magnetLink", func(v *view) string {
		if mi := v.info(); mi != nil {
			return mi.Magnet().String()
		}
		return (&metainfo.Magnet{InfoHash: v.e.ih, HasV1: true, Name: v.e.t.Name()}).String()
	})
	i64("pieceCount", func(v *view) int64 {
		return fromInfo(v, func(mi *metainfo.MetaInfo) int64 { return int64(mi.Info.NumPieces()) })
	})
	i64("pieceSize", func(v *view) int64 {
		return fromInfo(v, func(mi *metainfo.MetaInfo) int64 { return mi.Info.PieceLength })
	})
	str("pieces", func(v *view) string { return base64.StdEncoding.EncodeToString(v.e.t.Have().Bytes()) })
	i64("bandwidthPriority", func(v *view) int64 { return v.settings().BandwidthPriority })
	i64("downloadLimit", func(v *view) int64 { return v.settings().DownloadLimit })
	bol("downloadLimited", func(v *view) bool { return v.settings().DownloadLimited })
	i64("uploadLimit", func(v *view) int64 { return v.settings().UploadLimit })
	bol("uploadLimited", func(v *view) bool { return v.settings().UploadLimited })
	bol("honorsSessionLimits", func(v *view) bool { return !v.settings().IgnoresSessionLimits })
	peerLimit := func(v *view) int64 {
		if n := v.settings().PeerLimit; n > 0 {
			return n
		}
		return v.d.st.get().PeerLimitPerTorrent
	}
	i64("peer-limit", peerLimit)
	i64("maxConnectedPeers", peerLimit)
	flt("seedRatioLimit", func(v *view) float64 {
		if r := v.settings().SeedRatioLimit; r > 0 {
			return r
		}
		return v.d.st.get().SeedRatioLimit
	})
	i64("seedRatioMode", func(v *view) int64 { return v.settings().SeedRatioMode })
	i64("seedIdleLimit", func(v *view) int64 {
		if n := v.settings().SeedIdleLimit; n > 0 {
			return n
		}
		return v.d.st.get().IdleSeedingLimit
	})
	i64("seedIdleMode", func(v *view) int64 { return v.settings().SeedIdleMode })
	def("labels", func(w *jw, v *view) { strList(w, v.settings().Labels...) })
	def("webseeds", func(w *jw, v *view) {
		strList(w, fromInfo(v, func(mi *metainfo.MetaInfo) []string { return mi.URLList })...)
	})
	def("files", files)
	def("fileStats", fileStats)
	def("streams", streams)
	def("priorities", func(w *jw, v *view) {
		w.arr()
		for _, f := range v.fileList() {
			w.int(trPriority(f.Priority))
		}
		w.endArr()
	})
	def("wanted", func(w *jw, v *view) {
		w.arr()
		for _, f := range v.fileList() {
			if f.Priority == client.Skip {
				w.int(0)
			} else {
				w.int(1)
			}
		}
		w.endArr()
	})
	def("trackers", trackers)
	def("trackerStats", trackerStats)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func status(v *view) int64 {
	st := v.stats()
	if v.e.verifying.Load() && st.State != client.Checking {
		return trCheckWait
	}
	switch st.State {
	case client.Checking:
		return trCheck
	case client.Downloading, client.Metadata:
		return trDownload
	case client.Seeding:
		return trSeed
	}
	return trStopped
}

func eta(v *view) int64 {
	st := v.stats()
	switch {
	case st.State == client.Metadata:
		return etaUnknown
	case st.Left == 0:
		return etaNotAvailable
	case st.DownloadRate < 1 || st.State != client.Downloading:
		return etaUnknown
	}
	return int64(float64(st.Left) / st.DownloadRate)
}

// ratio is Transmission's upload ratio: uploaded over downloaded (or, for
// a torrent that downloaded nothing, over what it has).
func ratio(v *view) float64 {
	st := v.stats()
	den := st.Downloaded
	if den == 0 {
		den = st.Wanted - st.Left
	}
	switch {
	case den > 0:
		return float64(st.Uploaded) / float64(den)
	case st.Uploaded > 0:
		return ratioInf
	}
	return ratioNA
}

func haveValid(v *view) int64 {
	st := v.stats()
	if st.PiecesHave == st.PiecesTotal {
		return st.Length
	}
	mi := v.info()
	if mi == nil {
		return 0
	}
	info := &mi.Info
	have := v.e.t.Have()
	n := int64(have.Count()) * info.PieceLength
	if last := info.NumPieces() - 1; last >= 0 && have.Has(last) {
		n -= info.PieceLength - info.PieceLen(last)
	}
	return n
}

func trPriority(p client.Priority) int64 {
	if p == client.High {
		return 1
	}
	return 0
}

// torrentGet answers torrent-get: the "fields" asked, for the torrents
// "ids" selects, as objects (or, with "format": "table", as arrays after
// a row of field names); with "recently-active", also "removed".
func (d *Daemon) torrentGet(ctx context.Context, a args, w *jw) error {
	names, ok, err := a.strs("fields")
	if err != nil {
		return err
	}
	if !ok {
		return rpcErrorf(`torrent-get needs "fields"`)
	}
	format, _, err := a.str("format")
	if err != nil {
		return err
	}
	table := format == "table"
	sel, err := d.selectIDs(a)
	if err != nil {
		return err
	}
	fs := make([]field, len(names))
	for i, n := range names {
		fs[i] = fields[canon(n)] // nil: unknown, left out as Transmission does
	}
	w.key("torrents")
	w.arr()
	if table {
		w.arr()
		for i, n := range names {
			if fs[i] != nil {
				w.str(n)
			}
		}
		w.endArr()
	}
	now := time.Now()
	for _, e := range sel.entries {
		v := view{d: d, e: e, ctx: ctx, now: now}
		if table {
			w.arr()
		} else {
			w.obj()
		}
		for i, f := range fs {
			if f == nil {
				continue
			}
			if !table {
				w.key(names[i])
			}
			f(w, &v)
		}
		if table {
			w.endArr()
		} else {
			w.endObj()
		}
	}
	w.endArr()
	if sel.recent {
		w.key("removed")
		w.arr()
		for _, id := range sel.removed {
			w.int(int64(id))
		}
		w.endArr()
	}
	return nil
}
