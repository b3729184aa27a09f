package daemon

import (
	"net/url"
	"strings"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/session"
	"github.com/effusion-bt/effusion/streamhttp"
)

// The torrent-get fields that are lists: files, peers, trackers.

func files(w *jw, v *view) {
	w.arr()
	for _, f := range v.fileList() {
		w.obj()
		w.kint("bytesCompleted", f.Completed)
		w.kint("length", f.Length)
		w.kstr("name", f.Path)
		w.endObj()
	}
	w.endArr()
}

func fileStats(w *jw, v *view) {
	w.arr()
	for _, f := range v.fileList() {
		w.obj()
		w.kint("bytesCompleted", f.Completed)
		w.kbool("wanted", f.Priority != client.Skip)
		w.kint("priority", trPriority(f.Priority))
		w.endObj()
	}
	w.endArr()
}

// streams is effusion's own field: for each of files, the path the daemon
// serves it at (/stream/, while it downloads) and its media type, for a
// front end's play link.
func streams(w *jw, v *view) {
	w.arr()
	for _, f := range v.fileList() {
		w.obj()
		w.kstr("path", streamPath(v.e.ih, f.Index, f.Path))
		w.kstr("type", streamhttp.ContentType(f.Path))
		w.endObj()
	}
	w.endArr()
}

func peersFrom(w *jw, v *view) {
	var in, out int64
	for _, p := range v.stats().PeerStats {
		if p.Outgoing {
			out++
		} else {
			in++
		}
	}
	w.obj()
	w.kint("fromCache", 0)
	w.kint("fromDht", 0)
	w.kint("fromIncoming", in)
	w.kint("fromLpd", 0)
	w.kint("fromLtep", 0)
	w.kint("fromPex", 0)
	w.kint("fromTracker", out)
	w.endObj()
}

// peerFlags is Transmission's flagStr: O optimistic unchoke, D/d
// downloading from it / we want to, U/u uploading to it / it wants to, K
// it unchoked us but we are not interested, ? we unchoked it but it is
// not interested, E encrypted (RC4), T uTP, I incoming.
func peerFlags(p *session.PeerStats) string {
	var b strings.Builder
	if p.Optimistic {
		b.WriteByte('O')
	}
	switch {
	case p.DownloadRate > 0:
		b.WriteByte('D')
	case p.Interested:
		b.WriteByte('d')
	}
	switch {
	case p.UploadRate > 0:
		b.WriteByte('U')
	case p.PeerInterested:
		b.WriteByte('u')
	}
	if !p.PeerChoking && !p.Interested {
		b.WriteByte('K')
	}
	if !p.Choking && !p.PeerInterested {
		b.WriteByte('?')
	}
	if p.Encrypted {
		b.WriteByte('E')
	}
	if p.Transport == "utp" {
		b.WriteByte('T')
	}
	if !p.Outgoing {
		b.WriteByte('I')
	}
	return b.String()
}

func peers(w *jw, v *view) {
	st := v.stats()
	w.arr()
	for i := range st.PeerStats {
		p := &st.PeerStats[i]
		w.obj()
		w.kstr("address", p.Addr.Addr().Unmap().String())
		w.kint("port", int64(p.Addr.Port()))
		w.kstr("clientName", p.Client)
		w.kbool("clientIsChoked", p.PeerChoking)
		w.kbool("clientIsInterested", p.Interested)
		w.kstr("flagStr", peerFlags(p))
		w.kbool("isDownloadingFrom", p.DownloadRate > 0)
		w.kbool("isEncrypted", p.Encrypted)
		w.kbool("isIncoming", !p.Outgoing)
		w.kbool("isUploadingTo", p.UploadRate > 0)
		w.kbool("isUTP", p.Transport == "utp")
		w.kbool("peerIsChoked", p.Choking)
		w.kbool("peerIsInterested", p.PeerInterested)
		progress := 0.0
		if st.PiecesTotal > 0 {
			progress = float64(p.Pieces) / float64(st.PiecesTotal)
		}
		w.kfloat("progress", progress)
		w.kint("rateToClient", int64(p.DownloadRate))
		w.kint("rateToPeer", int64(p.UploadRate))
		w.endObj()
	}
	w.endArr()
}

// scrapeURL derives a tracker's scrape URL the conventional way (the last
// path element "announce" becomes "scrape"); "" when it has none.
func scrapeURL(announce string) string {
	i := strings.LastIndexByte(announce, '/')
	if i < 0 || !strings.HasPrefix(announce[i+1:], "announce") {
		return ""
	}
	return announce[:i+1] + "scrape" + announce[i+1+len("announce"):]
}

func trackers(w *jw, v *view) {
	w.arr()
	id := int64(0)
	for tier, urls := range fromInfo(v, (*metainfo.MetaInfo).Trackers) {
		for _, u := range urls {
			w.obj()
			w.kstr("announce", u)
			w.kint("id", id)
			w.kstr("scrape", scrapeURL(u))
			w.kint("tier", int64(tier))
			w.endObj()
			id++
		}
	}
	w.endArr()
}

// Transmission's tracker announce states.
const (
	trackerInactive = 0
	trackerWaiting  = 1
	trackerActive   = 3
)

func trackerStats(w *jw, v *view) {
	as, running := v.tracker()
	w.arr()
	id := int64(0)
	for tier, urls := range fromInfo(v, (*metainfo.MetaInfo).Trackers) {
		for _, u := range urls {
			answered := running && as.Tracker == u
			state := trackerInactive
			if running {
				switch as.State {
				case "announcing":
					state = trackerActive
				case "waiting", "idle":
					state = trackerWaiting
				}
			}
			host := u
			if pu, err := url.Parse(u); err == nil {
				host = pu.Scheme + "://" + pu.Host
			}
			w.obj()
			w.kstr("announce", u)
			w.kint("announceState", int64(state))
			w.kint("downloadCount", -1)
			w.kbool("hasAnnounced", answered)
			w.kbool("hasScraped", false)
			w.kstr("host", host)
			w.kint("id", id)
			w.kbool("isBackup", false)
			if answered {
				w.kint("lastAnnouncePeerCount", int64(as.Peers))
				result := "Success"
				if as.LastErr != nil {
					result = as.LastErr.Error()
				}
				w.kstr("lastAnnounceResult", result)
				w.kbool("lastAnnounceSucceeded", as.LastErr == nil)
				w.kint("lastAnnounceTime", unix(as.LastAnnounce))
				w.kint("leecherCount", int64(as.Leechers))
				w.kint("seederCount", int64(as.Seeders))
			} else {
				w.kint("lastAnnouncePeerCount", 0)
				result := ""
				if running && as.LastErr != nil {
					result = as.LastErr.Error()
				}
				w.kstr("lastAnnounceResult", result)
				w.kbool("lastAnnounceSucceeded", false)
				w.kint("lastAnnounceTime", 0)
				w.kint("leecherCount", -1)
				w.kint("seederCount", -1)
			}
			w.kint("lastAnnounceStartTime", 0)
			w.kbool("lastAnnounceTimedOut", false)
			w.kstr("lastScrapeResult", "")
			w.kint("lastScrapeStartTime", 0)
			w.kbool("lastScrapeSucceeded", false)
			w.kint("lastScrapeTime", 0)
			w.kbool("lastScrapeTimedOut", false)
			next := int64(0)
			if running {
				next = unix(as.NextAnnounce)
			}
			w.kint("nextAnnounceTime", next)
			w.kint("nextScrapeTime", 0)
			w.kstr("scrape", scrapeURL(u))
			w.kint("scrapeState", 0)
			w.kint("tier", int64(tier))
			w.endObj()
			id++
		}
	}
	w.endArr()
}
