package server_test

import (
	"context"
	"fmt"

	"github.com/effusion-bt/effusion/tracker"
	"github.com/effusion-bt/effusion/tracker/server"
)

// Two peers announce to an in-process tracker; the second learns of the first.
func Example() {
	ctx := context.Background()
	srv, err := server.Start(ctx, server.Config{HTTPAddr: "127.0.0.1:0", UDPAddr: "127.0.0.1:0"})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	var infoHash, seedID, leechID [20]byte
	copy(infoHash[:], "example info-hash...")
	copy(seedID[:], "-EF0001-seed........")
	copy(leechID[:], "-EF0001-leech.......")
	c := tracker.NewClient(tracker.Options{})
	_, err = c.Announce(ctx, srv.AnnounceURL(), tracker.AnnounceRequest{
		InfoHash: infoHash, PeerID: seedID, Port: 6881, Left: 0, Event: tracker.EventStarted})
	if err != nil {
		panic(err)
	}
	resp, err := c.Announce(ctx, srv.UDPAnnounceURL(), tracker.AnnounceRequest{
		InfoHash: infoHash, PeerID: leechID, Port: 6882, Left: 1000, Event: tracker.EventStarted})
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.Peers, resp.Complete, resp.Incomplete, resp.Interval)
	// Output: [127.0.0.1:6881] 1 1 30m0s
}
