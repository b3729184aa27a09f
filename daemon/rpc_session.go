package daemon

import (
	"context"
	"path/filepath"
	"time"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/mse"
)

// kB is Transmission's speed unit: 1000 bytes.
const kB = 1000

// applyLimits sets the client's process-wide limits from the settings:
// the alternative speeds when they are on, else the normal ones when
// enabled.
func (d *Daemon) applyLimits() {
	s := d.st.get()
	var down, up int64
	switch {
	case s.AltSpeedEnabled:
		down, up = s.AltSpeedDown, s.AltSpeedUp
	default:
		if s.SpeedLimitDownEnabled {
			down = s.SpeedLimitDown
		}
		if s.SpeedLimitUpEnabled {
			up = s.SpeedLimitUp
		}
	}
	d.c.SetRateLimits(kbps(down), kbps(up))
}

// kbps converts kB/s to bytes per second, saturating.
func kbps(v int64) int {
	const most = 1 << 40
	if v <= 0 {
		return 0
	}
	return int(min(v, most/kB) * kB)
}

// applyTorrentLimits sets a torrent's own limits from its settings.
func (d *Daemon) applyTorrentLimits(e *entry) {
	ts := d.st.torrent(e.hash)
	var down, up int64
	if ts.DownloadLimited {
		down = max(ts.DownloadLimit, 1)
	}
	if ts.UploadLimited {
		up = max(ts.UploadLimit, 1)
	}
	e.t.SetRateLimits(kbps(down), kbps(up))
}

// sessionGet answers session-get: every session argument of RPC 16 (or
// those "fields" names).
func (d *Daemon) sessionGet(_ context.Context, a args, w *jw) error {
	only, _, err := a.strs("fields")
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, f := range only {
		want[canon(f)] = true
	}
	s := d.st.get()
	put := func(k string, f func()) {
		if len(want) == 0 || want[canon(k)] {
			w.key(k)
			f()
		}
	}
	str := func(k, v string) { put(k, func() { w.str(v) }) }
	num := func(k string, v int64) { put(k, func() { w.int(v) }) }
	flag := func(k string, v bool) { put(k, func() { w.bool(v) }) }
	num("alt-speed-down", s.AltSpeedDown)
	flag("alt-speed-enabled", s.AltSpeedEnabled)
	num("alt-speed-time-begin", 540)
	num("alt-speed-time-day", 127)
	flag("alt-speed-time-enabled", false)
	num("alt-speed-time-end", 1020)
	num("alt-speed-up", s.AltSpeedUp)
	flag("blocklist-enabled", false)
	num("blocklist-size", 0)
	str("blocklist-url", "")
	num("cache-size-mb", 0)
	str("config-dir", d.cfg.DataDir)
	flag("dht-enabled", false)
	str("download-dir", s.DownloadDir)
	free := int64(-1)
	if n, ok := diskFree(s.DownloadDir); ok {
		free = int64(n)
	}
	num("download-dir-free-space", free)
	flag("download-queue-enabled", false)
	num("download-queue-size", 5)
	str("encryption", s.Encryption)
	num("idle-seeding-limit", s.IdleSeedingLimit)
	flag("idle-seeding-limit-enabled", s.IdleSeedingEnabled)
	str("incomplete-dir", s.DownloadDir)
	flag("incomplete-dir-enabled", false)
	flag("lpd-enabled", false)
	num("peer-limit-global", s.PeerLimitGlobal)
	num("peer-limit-per-torrent", s.PeerLimitPerTorrent)
	num("peer-port", int64(d.c.Addr().Port()))
	flag("peer-port-random-on-start", false)
	flag("pex-enabled", false)
	flag("port-forwarding-enabled", false)
	flag("queue-stalled-enabled", false)
	num("queue-stalled-minutes", 30)
	flag("rename-partial-files", false)
	num("rpc-version", rpcVersion)
	num("rpc-version-minimum", rpcVersionMinimum)
	str("script-torrent-done-filename", "")
	flag("script-torrent-done-enabled", false)
	put("seedRatioLimit", func() { w.float(s.SeedRatioLimit) })
	flag("seedRatioLimited", s.SeedRatioLimited)
	flag("seed-queue-enabled", false)
	num("seed-queue-size", 10)
	str("session-id", d.sid)
	num("speed-limit-down", s.SpeedLimitDown)
	flag("speed-limit-down-enabled", s.SpeedLimitDownEnabled)
	num("speed-limit-up", s.SpeedLimitUp)
	flag("speed-limit-up-enabled", s.SpeedLimitUpEnabled)
	flag("start-added-torrents", s.StartAddedTorrents)
	flag("trash-original-torrent-files", false)
	put("units", func() {
		w.obj()
		w.key("speed-units")
		strList(w, "kB/s", "MB/s", "GB/s", "TB/s")
		w.kint("speed-bytes", kB)
		w.key("size-units")
		strList(w, "kB", "MB", "GB", "TB")
		w.kint("size-bytes", 1000)
		w.key("memory-units")
		strList(w, "KiB", "MiB", "GiB", "TiB")
		w.kint("memory-bytes", 1024)
		w.endObj()
	})
	flag("utp-enabled", false)
	str("version", d.cfg.Version)
	return nil
}

func strList(w *jw, ss ...string) {
	w.arr()
	for _, s := range ss {
		w.str(s)
	}
	w.endArr()
}

// encryptionModes maps Transmission's encryption settings to policies:
// "tolerated" (Transmission: plain preferred, encrypted accepted) is
// plain only here, the nearest policy the engine has.
var encryptionModes = map[string]mse.Policy{"required": mse.Require, "preferred": mse.Prefer, "tolerated": mse.Off}

// EncryptionName is the Transmission name of a policy (session-get's
// "encryption").
func EncryptionName(p mse.Policy) string {
	for n, q := range encryptionModes {
		if q == p {
			return n
		}
	}
	return "preferred"
}

// applyEncryption sets the client's policy from the settings.
func (d *Daemon) applyEncryption() {
	if p, ok := encryptionModes[d.st.get().Encryption]; ok {
		d.c.SetEncryption(p)
	}
}

// sessionSet answers session-set: the arguments it acts on are checked
// first, then applied together. Arguments of features the daemon does
// not have are accepted and ignored, as Transmission ignores unknown
// ones, so that a remote saving all its preferences keeps working.
func (d *Daemon) sessionSet(_ context.Context, a args, _ *jw) error {
	as := &argSet{a: a}
	str := func(k string) (string, bool) { return get(as, args.str, k) }
	flag := func(k string) (bool, bool) { return get(as, args.bool, k) }
	num := as.count
	dir, dirOK := str("download_dir")
	if dirOK && !filepath.IsAbs(dir) {
		as.keep(rpcErrorf("download directory path %q is not absolute", dir))
	}
	enc, encOK := str("encryption")
	if _, known := encryptionModes[enc]; encOK && !known {
		as.keep(argError("encryption", `"required", "preferred" or "tolerated"`))
	}
	down, downOK := num("speed_limit_down")
	downOn, downOnOK := flag("speed_limit_down_enabled")
	up, upOK := num("speed_limit_up")
	upOn, upOnOK := flag("speed_limit_up_enabled")
	altDown, altDownOK := num("alt_speed_down")
	altUp, altUpOK := num("alt_speed_up")
	altOn, altOnOK := flag("alt_speed_enabled")
	peersGlobal, pgOK := num("peer_limit_global")
	peersTorrent, ptOK := num("peer_limit_per_torrent")
	start, startOK := flag("start_added_torrents")
	ratio, ratioOK := get(as, args.float, "seed_ratio_limit")
	ratioOn, ratioOnOK := flag("seed_ratio_limited")
	idle, idleOK := num("idle_seeding_limit")
	idleOn, idleOnOK := flag("idle_seeding_limit_enabled")
	if as.err != nil {
		return as.err
	}
	d.st.update(func(s *settings) {
		set(&s.DownloadDir, filepath.Clean(dir), dirOK)
		set(&s.Encryption, enc, encOK)
		set(&s.SpeedLimitDown, down, downOK)
		set(&s.SpeedLimitDownEnabled, downOn, downOnOK)
		set(&s.SpeedLimitUp, up, upOK)
		set(&s.SpeedLimitUpEnabled, upOn, upOnOK)
		set(&s.AltSpeedDown, altDown, altDownOK)
		set(&s.AltSpeedUp, altUp, altUpOK)
		set(&s.AltSpeedEnabled, altOn, altOnOK)
		set(&s.PeerLimitGlobal, peersGlobal, pgOK)
		set(&s.PeerLimitPerTorrent, peersTorrent, ptOK)
		set(&s.StartAddedTorrents, start, startOK)
		set(&s.SeedRatioLimit, ratio, ratioOK)
		set(&s.SeedRatioLimited, ratioOn, ratioOnOK)
		set(&s.IdleSeedingLimit, idle, idleOK)
		set(&s.IdleSeedingEnabled, idleOn, idleOnOK)
	})
	if encOK {
		d.applyEncryption()
		d.log.Info("session-set: encryption policy changed", "encryption", enc)
	}
	if pgOK || ptOK {
		d.log.Info("session-set: peer limits are recorded; they take effect at the next start", "global", peersGlobal, "per-torrent", peersTorrent)
	}
	d.applyLimits()
	return d.st.flush()
}

func set[T any](p *T, v T, ok bool) {
	if ok {
		*p = v
	}
}

// sessionStats answers session-stats.
func (d *Daemon) sessionStats(_ context.Context, _ args, w *jw) error {
	var active, paused int64
	var down, up float64
	es := d.reg.all()
	for _, e := range es {
		st := e.t.Stats()
		down += st.DownloadRate
		up += st.UploadRate
		if st.State == client.Paused || st.State == client.Failed {
			paused++
		} else if st.DownloadRate > 0 || st.UploadRate > 0 {
			active++
		}
	}
	s := d.st.get()
	cur := cumulative{
		UploadedBytes:   d.reg.sessionUp(),
		DownloadedBytes: d.reg.sessionDown(),
		FilesAdded:      d.added.Load(),
		SessionCount:    1,
		SecondsActive:   int64(time.Since(d.started).Seconds()),
	}
	tot := s.Cumulative
	tot.UploadedBytes += cur.UploadedBytes
	tot.DownloadedBytes += cur.DownloadedBytes
	tot.SecondsActive += cur.SecondsActive
	w.kint("activeTorrentCount", active)
	w.kint("downloadSpeed", int64(down))
	w.kint("pausedTorrentCount", paused)
	w.kint("torrentCount", int64(len(es)))
	w.kint("uploadSpeed", int64(up))
	w.key("cumulative-stats")
	writeCumulative(w, tot)
	w.key("current-stats")
	writeCumulative(w, cur)
	return nil
}

func writeCumulative(w *jw, c cumulative) {
	w.obj()
	w.kint("uploadedBytes", c.UploadedBytes)
	w.kint("downloadedBytes", c.DownloadedBytes)
	w.kint("filesAdded", c.FilesAdded)
	w.kint("sessionCount", c.SessionCount)
	w.kint("secondsActive", c.SecondsActive)
	w.endObj()
}

// sessionClose answers session-close: the daemon's owner is asked to shut
// it down (it answers first).
func (d *Daemon) sessionClose(context.Context, args, *jw) error {
	if d.cfg.OnClose == nil {
		return rpcErrorf("session-close: this daemon cannot be shut down remotely")
	}
	d.log.Info("session-close: shutting down at an RPC client's request")
	d.requestClose()
	return nil
}

// freeSpace answers free-space: the bytes free where "path" is.
func (d *Daemon) freeSpace(_ context.Context, a args, w *jw) error {
	p, ok, err := a.str("path")
	if err != nil {
		return err
	}
	if !ok || !filepath.IsAbs(p) {
		return rpcErrorf("free-space: \"path\" must be an absolute directory")
	}
	n, ok := diskFree(p)
	if !ok {
		return rpcErrorf("free-space: cannot read the free space of %q", p)
	}
	w.kstr("path", p)
	w.kint("size-bytes", int64(n))
	return nil
}

// portTest answers port-test without reaching out to the internet: it
// cannot know, so it says the port is not known to be open.
func (d *Daemon) portTest(_ context.Context, _ args, w *jw) error {
	w.kbool("port-is-open", false)
	return nil
}
