// Command streamread is the streaming benchmark's player (package
// bench/streamplay) with anacrolix/torrent v1.58.1's Reader in process: the
// anchor Effusion is measured against (bench/stream.sh). It is a module of
// its own so that anacrolix/torrent v1.58.1 and Effusion's newer anacrolix
// dependencies never meet.
package main

import (
	"context"
	"fmt"
	"net"
	"time"

	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent"
	"github.com/effusion-bt/effusion/bench/streamplay"
)

const anacrolixName = "anacrolix/torrent v1.58.1"

func main() {
	streamplay.Main(anacrolixName, func(o streamplay.Options) streamplay.Source { return &anacrolixSource{o: o} })
}

// anacrolixSource streams with anacrolix/torrent's File Reader: loopback
// only (no DHT, no trackers unless the torrent's are wanted, no port
// mapping), TCP only unless -utp, plaintext like Effusion.
type anacrolixSource struct {
	streamplay.Completion
	o      streamplay.Options
	cl     *torrent.Client
	r      torrent.Reader
	remove func() error // the data directory, if temporary
	stop   chan struct{}
}

func (s *anacrolixSource) Open(ctx context.Context) (streamplay.Reader, int64, error) {
	cfg := torrent.NewDefaultClientConfig()
	dir, remove, err := streamplay.DataDir(s.o, "streamread-")
	if err != nil {
		return nil, 0, err
	}
	s.remove = remove
	cfg.DataDir = dir
	cfg.ListenHost = func(string) string { return "127.0.0.1" }
	cfg.ListenPort = 0
	cfg.NoDHT = true
	cfg.PeriodicallyAnnounceTorrentsToDht = false
	cfg.DisableTrackers = true
	cfg.DisableWebtorrent = true
	cfg.DisableWebseeds = true
	cfg.NoDefaultPortForwarding = true
	cfg.DisableIPv6 = true
	cfg.DisableUTP = !s.o.UTP
	cfg.Seed = false
	cfg.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{Preferred: false, RequirePreferred: false}
	cfg.Logger = alog.Default.WithFilterLevel(alog.Warning)
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		return nil, 0, err
	}
	s.cl = cl
	var t *torrent.Torrent
	if s.o.Magnet != "" {
		t, err = cl.AddMagnet(s.o.Magnet)
	} else {
		t, err = cl.AddTorrentFromFile(s.o.Torrent)
	}
	if err != nil {
		return nil, 0, err
	}
	addrs, err := streamplay.ParsePeers(s.o.Peers)
	if err != nil {
		return nil, 0, err
	}
	peers := make([]torrent.PeerInfo, len(addrs))
	for i, a := range addrs {
		peers[i] = torrent.PeerInfo{Addr: net.TCPAddrFromAddrPort(a), Trusted: true}
	}
	t.AddPeers(peers)
	select {
	case <-t.GotInfo():
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("metadata: %w", ctx.Err())
	}
	files := t.Files()
	if s.o.File < 0 || s.o.File >= len(files) {
		return nil, 0, fmt.Errorf("file %d of %d", s.o.File, len(files))
	}
	f := files[s.o.File]
	if s.o.Background {
		f.Download()
	}
	s.stop = make(chan struct{})
	go func() { // note when the file is complete
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tk.C:
				if f.BytesCompleted() == f.Length() {
					s.Mark()
					return
				}
			}
		}
	}()
	s.r = f.NewReader()
	if s.o.Readahead > 0 {
		s.r.SetReadahead(s.o.Readahead)
	}
	return s.r, f.Length(), nil
}

func (s *anacrolixSource) Close() error {
	if s.stop != nil {
		close(s.stop)
	}
	if s.r != nil {
		s.r.Close()
	}
	if s.cl != nil {
		s.cl.Close()
	}
	if s.remove != nil {
		return s.remove()
	}
	return nil
}
