package swarm

import (
	"fmt"
	"io"
	"strings"

	"github.com/effusion-bt/effusion/internal/units"
)

// WriteSummary prints r for a person: the set-up, each leecher's time,
// throughput, peers and verification, the aggregate, CPU and memory.
func (r *Result) WriteSummary(w io.Writer) error {
	var b strings.Builder
	files := "1 file"
	if r.Files != 1 {
		files = fmt.Sprintf("%d files", r.Files)
	}
	where, setup := "tracker "+r.Tracker, "tracker"
	if r.DHTNodes > 0 {
		where = fmt.Sprintf("no tracker: a loopback DHT of %d nodes, leechers from a bare magnet link", r.DHTNodes)
		setup = "DHT, seeders' announce"
	}
	fmt.Fprintf(&b, "swarm: %s in %s, %d pieces of %s; %d seeder(s), %d leecher(s); %s\n",
		units.Format(r.Size), files, r.Pieces, units.Format(r.PieceLength), r.Seeders, len(r.Leechers), where)
	fmt.Fprintf(&b, "  set-up (payload, torrent, %s, seeders' check): %.2fs\n", setup, r.Setup.Seconds())
	all := true
	for i, l := range r.Leechers {
		state := "verified"
		if !l.Verified {
			state, all = "NOT VERIFIED", false
		}
		rate := "-"
		if l.Elapsed > 0 {
			rate = fmt.Sprintf("%.1f MB/s", float64(r.Size)/l.Elapsed.Seconds()/1e6)
		}
		fmt.Fprintf(&b, "  leecher %d  %-21s %7.2fs  %12s  %d peers seen  %s\n",
			i+1, l.Addr, l.Elapsed.Seconds(), rate, l.PeersSeen, state)
	}
	fmt.Fprintf(&b, "  all %d complete in %.2fs: %.1f MB/s aggregate (%s downloaded)\n",
		len(r.Leechers), r.Elapsed.Seconds(), r.Throughput()/1e6, units.Format(r.Size*int64(len(r.Leechers))))
	gib := float64(r.Size*int64(len(r.Leechers))) / (1 << 30)
	perGiB := ""
	if gib > 0 {
		perGiB = fmt.Sprintf(", %.2f s per GiB downloaded", r.CPU.Seconds()/gib)
	}
	fmt.Fprintf(&b, "  CPU: %.2fs user+sys during the transfer%s (whole run %.2fs); peak memory (RSS) %s\n",
		r.CPU.Seconds(), perGiB, r.TotalCPU.Seconds(), units.Format(r.MaxRSS))
	if all {
		fmt.Fprintf(&b, "  every copy matches the payload byte for byte\n")
	} else {
		fmt.Fprintf(&b, "  SOME COPIES DIFFER FROM THE PAYLOAD\n")
	}
	if r.Dir != "" {
		fmt.Fprintf(&b, "  work directory: %s\n", r.Dir)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
