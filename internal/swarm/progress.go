package swarm

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// snap is one leecher's progress at one moment.
type snap struct {
	done  int64 // verified bytes
	peers int   // connected peers
}

// progress shows the leechers' progress while they download.
type progress interface {
	update(elapsed time.Duration, s []snap)
	// finish draws the final state; ok is false when the run was cut short.
	finish(elapsed time.Duration, s []snap, ok bool)
}

// barProgress draws one live bar per leecher and a total with mpb, for a terminal.
type barProgress struct {
	p     *mpb.Progress
	bars  []*mpb.Bar
	total *mpb.Bar
}

func newBarProgress(w io.Writer, leechers int, size int64) *barProgress {
	bp := &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(120*time.Millisecond))}
	add := func(name string, total int64) *mpb.Bar {
		return bp.p.AddBar(total,
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace)),
		)
	}
	for i := range leechers {
		bp.bars = append(bp.bars, add(fmt.Sprintf("leecher %d", i+1), size))
	}
	bp.total = add("total", size*int64(leechers))
	return bp
}

func (bp *barProgress) update(_ time.Duration, s []snap) {
	var sum int64
	for i, x := range s {
		bp.bars[i].SetCurrent(x.done)
		sum += x.done
	}
	bp.total.SetCurrent(sum)
}

func (bp *barProgress) finish(elapsed time.Duration, s []snap, ok bool) {
	bp.update(elapsed, s)
	for _, b := range append(bp.bars, bp.total) {
		if ok {
			b.SetTotal(-1, true) // complete at the current value
		} else {
			b.Abort(false)
		}
	}
	bp.p.Wait()
}

// lineProgress prints a plain line every interval, for logs and pipes.
type lineProgress struct {
	w        io.Writer
	size     int64
	interval time.Duration
	last     time.Duration
}

func (lp *lineProgress) update(elapsed time.Duration, s []snap) {
	if elapsed-lp.last < lp.interval {
		return
	}
	lp.last = elapsed
	lp.print(elapsed, s)
}

func (lp *lineProgress) finish(elapsed time.Duration, s []snap, _ bool) { lp.print(elapsed, s) }

func (lp *lineProgress) print(elapsed time.Duration, s []snap) {
	var b strings.Builder
	var sum int64
	fmt.Fprintf(&b, "%6.1fs", elapsed.Seconds())
	for i, x := range s {
		fmt.Fprintf(&b, "  leecher %d %3.0f%%", i+1, pct(x.done, lp.size))
		sum += x.done
	}
	rate := 0.0
	if elapsed > 0 {
		rate = float64(sum) / elapsed.Seconds() / 1e6
	}
	fmt.Fprintf(&b, "  total %3.0f%% %.1f MB/s\n", pct(sum, lp.size*int64(len(s))), rate)
	_, _ = io.WriteString(lp.w, b.String())
}

func pct(a, b int64) float64 {
	if b <= 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}
