// Command streamlib is the streaming benchmark's player (package
// bench/streamplay) with Effusion's library in process: a client.Client and
// a client.Reader over the file, as a Go program embedding Effusion reads
// it, measured the same way as the anchor, anacrolix/torrent's Reader, in
// bench/stream (bench/stream.sh runs both, and `effusion stream` over HTTP).
// It is a module of its own, beside the anchor's, so that neither client's
// dependencies constrain the other's.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/effusion-bt/effusion/bench/streamplay"
	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/metainfo"
	"github.com/effusion-bt/effusion/mse"
	"github.com/effusion-bt/effusion/transport"
)

const name = "effusion (library)"

func main() {
	streamplay.Main(name, func(o streamplay.Options) streamplay.Source { return &effusionSource{o: o} })
}

// effusionSource streams with client.Torrent's Reader under the conditions
// of the anchor and of bench/stream.sh's `effusion stream`: loopback only,
// no DHT, no LSD, plaintext, TCP only unless -utp, its own data directory
// (resume store included) so that no other torrent starts with it.
type effusionSource struct {
	streamplay.Completion
	o      streamplay.Options
	c      *client.Client
	r      *client.Reader
	remove func() error // the data directory, if temporary
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

func (s *effusionSource) Open(ctx context.Context) (streamplay.Reader, int64, error) {
	dir, remove, err := streamplay.DataDir(s.o, "streamlib-")
	if err != nil {
		return nil, 0, err
	}
	s.remove = remove
	peers, err := streamplay.ParsePeers(s.o.Peers)
	if err != nil {
		return nil, 0, err
	}
	spec := client.Spec{Dir: dir, Peers: peers}
	if s.o.Magnet != "" {
		spec.Magnet = s.o.Magnet
	} else if spec.Torrent, err = metainfo.Load(s.o.Torrent); err != nil {
		return nil, 0, err
	}
	if !s.o.Background {
		// Nothing is wanted but what the reader reads.
		spec.Select = func(info *metainfo.Info) []client.Priority {
			return make([]client.Priority, len(info.Files)) // all client.Skip
		}
	}
	mode := transport.TCP
	if s.o.UTP {
		mode = transport.Both
	}
	s.c, err = client.New(ctx, client.Config{
		DataDir:    filepath.Join(dir, ".state"),
		ListenAddr: "127.0.0.1:0",
		Encryption: mse.Off,
		Transport:  mode,
		NoDHT:      true,
		NoLSD:      true,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, 0, err
	}
	t, err := s.c.Add(ctx, spec)
	if err != nil {
		return nil, 0, err
	}
	select {
	case <-t.InfoReady():
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("metadata: %w", ctx.Err())
	}
	files := t.Files()
	if s.o.File < 0 || s.o.File >= len(files) {
		return nil, 0, fmt.Errorf("file %d of %d", s.o.File, len(files))
	}
	if s.r, err = t.NewReader(s.o.File); err != nil {
		return nil, 0, err
	}
	if s.o.Readahead > 0 {
		s.r.SetReadahead(s.o.Readahead)
	}
	if s.o.Background {
		actx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		s.wg.Go(func() { // note when the file is complete
			if t.Await(actx) == nil {
				s.Mark()
			}
		})
	}
	return s.r, files[s.o.File].Length, nil
}

func (s *effusionSource) Close() error {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
	if s.r != nil {
		s.r.Close()
	}
	var err error
	if s.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = s.c.Shutdown(ctx)
		cancel()
	}
	if s.remove != nil {
		if rerr := s.remove(); err == nil {
			err = rerr
		}
	}
	return err
}
