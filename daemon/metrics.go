package daemon

import (
	"net/http"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/session"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// collector reads the client at every scrape (nothing is kept between
// scrapes): per torrent and in total, bytes, rates, peers, pieces, bans;
// hash and write latency histograms; the machines by kind and state.
type collector struct {
	d *Daemon

	tDown, tUp, tDownRate, tUpRate, tPeers, tHave, tPieces, tLeft  *prometheus.Desc
	tVerified, tFailed, tBans, tState                              *prometheus.Desc
	down, up, downRate, upRate, peers, verified, failed, bans, cnt *prometheus.Desc
	hash, write, machines                                          *prometheus.Desc
}

func newCollector(d *Daemon) *collector {
	tl := []string{"infohash", "name"}
	td := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("effusion_torrent_"+name, help, append(append([]string(nil), tl...), extra...), nil)
	}
	gd := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("effusion_"+name, help, labels, nil)
	}
	return &collector{
		d:         d,
		tDown:     td("downloaded_bytes_total", "Payload bytes downloaded since the torrent was added."),
		tUp:       td("uploaded_bytes_total", "Payload bytes uploaded since the torrent was added."),
		tDownRate: td("download_rate_bytes", "Payload bytes per second downloaded now."),
		tUpRate:   td("upload_rate_bytes", "Payload bytes per second uploaded now."),
		tPeers:    td("peers", "Connected peers."),
		tHave:     td("pieces_have", "Verified pieces."),
		tPieces:   td("pieces", "Pieces in the torrent."),
		tLeft:     td("left_bytes", "Bytes of wanted pieces not verified yet."),
		tVerified: td("pieces_verified_total", "Received pieces that passed verification (since the torrent last started)."),
		tFailed:   td("pieces_failed_total", "Received pieces that failed verification (since the torrent last started)."),
		tBans:     td("bans_total", "Peers banned for bad data (since the torrent last started)."),
		tState:    td("state", "1 for the torrent's state.", "state"),
		down:      gd("downloaded_bytes_total", "Payload bytes downloaded by every torrent the daemon has, since each was added."),
		up:        gd("uploaded_bytes_total", "Payload bytes uploaded by every torrent the daemon has, since each was added."),
		downRate:  gd("download_rate_bytes", "Payload bytes per second downloaded now, all torrents."),
		upRate:    gd("upload_rate_bytes", "Payload bytes per second uploaded now, all torrents."),
		peers:     gd("peers", "Connected peers, all torrents."),
		verified:  gd("pieces_verified_total", "Received pieces that passed verification, all running torrents."),
		failed:    gd("pieces_failed_total", "Received pieces that failed verification, all running torrents."),
		bans:      gd("bans_total", "Peers banned for bad data, all running torrents."),
		cnt:       gd("torrents", "Torrents by state.", "state"),
		hash:      gd("piece_hash_seconds", "Time to hash a received piece (the batch it was hashed in)."),
		write:     gd("piece_write_seconds", "Time to write a verified piece."),
		machines:  gd("machines", "State machines by kind and state.", "kind", "state"),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.tDown, c.tUp, c.tDownRate, c.tUpRate, c.tPeers, c.tHave, c.tPieces, c.tLeft,
		c.tVerified, c.tFailed, c.tBans, c.tState,
		c.down, c.up, c.downRate, c.upRate, c.peers, c.verified, c.failed, c.bans, c.cnt,
		c.hash, c.write, c.machines,
	} {
		ch <- d
	}
}

var stateNames = []client.State{client.Metadata, client.Checking, client.Downloading, client.Seeding, client.Paused, client.Failed}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	var down, up, downRate, upRate, peers, verified, failed, bans float64
	byState := map[client.State]int{}
	for _, e := range c.d.reg.all() {
		st := e.t.Stats()
		ctr := e.t.Counters()
		l := []string{e.hash, e.t.Name()}
		counter(c.tDown, float64(st.Downloaded), l...)
		counter(c.tUp, float64(st.Uploaded), l...)
		gauge(c.tDownRate, st.DownloadRate, l...)
		gauge(c.tUpRate, st.UploadRate, l...)
		gauge(c.tPeers, float64(st.Peers), l...)
		gauge(c.tHave, float64(st.PiecesHave), l...)
		gauge(c.tPieces, float64(st.PiecesTotal), l...)
		gauge(c.tLeft, float64(st.Left), l...)
		counter(c.tVerified, float64(ctr.PiecesVerified), l...)
		counter(c.tFailed, float64(ctr.PiecesFailed), l...)
		counter(c.tBans, float64(ctr.Bans), l...)
		for _, s := range stateNames {
			v := 0.0
			if s == st.State {
				v = 1
			}
			gauge(c.tState, v, e.hash, e.t.Name(), s.String())
		}
		down += float64(st.Downloaded)
		up += float64(st.Uploaded)
		downRate += st.DownloadRate
		upRate += st.UploadRate
		peers += float64(st.Peers)
		verified += float64(ctr.PiecesVerified)
		failed += float64(ctr.PiecesFailed)
		bans += float64(ctr.Bans)
		byState[st.State]++
	}
	counter(c.down, down)
	counter(c.up, up)
	gauge(c.downRate, downRate)
	gauge(c.upRate, upRate)
	gauge(c.peers, peers)
	counter(c.verified, verified)
	counter(c.failed, failed)
	counter(c.bans, bans)
	for _, s := range stateNames {
		gauge(c.cnt, float64(byState[s]), s.String())
	}
	hash, write := c.d.c.Timings()
	ch <- constHistogram(c.hash, hash)
	ch <- constHistogram(c.write, write)
	for k, n := range c.d.machineStates(c.d.ctx) {
		gauge(c.machines, float64(n), k[0], k[1])
	}
}

// constHistogram turns a session latency histogram into Prometheus's
// cumulative buckets, in seconds.
func constHistogram(d *prometheus.Desc, h session.Histogram) prometheus.Metric {
	buckets := make(map[float64]uint64, len(session.LatencyBounds))
	var cum uint64
	for i, b := range session.LatencyBounds {
		cum += h.Counts[i]
		buckets[b.Seconds()] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count, h.Sum.Seconds(), buckets)
}

// metricsHandler serves the daemon's metrics and the Go runtime's and
// process's, from a registry of its own.
func (d *Daemon) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(d), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
