package metadata_test

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"time"

	"github.com/effusion-bt/effusion/metadata"
	"github.com/effusion-bt/effusion/peerwire"
)

// A Fetcher fetches an info dictionary from two peers, each answering from
// a Server; the messages go through the peerwire codec as on a real
// connection.
func Example() {
	info := bytes.Repeat([]byte("d4:name5:hello12:piece lengthi16384ee"), 1000) // stands for an info dict
	server := metadata.NewServer(info, metadata.ServerConfig{})

	f, err := metadata.NewFetcher(metadata.Config{InfoHash: sha1.Sum(info)})
	if err != nil {
		panic(err)
	}
	budgets := map[metadata.PeerID]*metadata.Budget{}
	for range 2 { // two peers announce ut_metadata and metadata_size
		budgets[f.AddPeer(server.Size())] = &metadata.Budget{}
	}
	var now time.Duration
	for rounds := 1; ; rounds++ {
		rd := f.Ready()
		if rd.Info != nil {
			fmt.Printf("fetched %d bytes in %d rounds, match: %v\n", len(rd.Info), rounds, bytes.Equal(rd.Info, info))
			return
		}
		for _, r := range rd.Requests {
			// Our request, as the peer decodes it.
			frame := peerwire.AppendMetadataRequest(nil, 3, r.Piece)
			req, _ := peerwire.ParseMetadataMsg(frame[6:])
			// The peer's answer, as we decode it.
			rep := server.Answer(budgets[r.Peer], req.Piece, now)
			frame = peerwire.AppendMetadataData(nil, 2, rep.Piece, rep.TotalSize, rep.Data)
			m, err := peerwire.ParseMetadataMsg(frame[6:])
			if err != nil {
				panic(err)
			}
			f.Data(r.Peer, m.Piece, m.TotalSize, m.Data)
		}
		now += 100 * time.Millisecond
		f.Tick(now)
	}
	// Output: fetched 37000 bytes in 2 rounds, match: true
}
