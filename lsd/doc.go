// Package lsd is BEP 14 local service discovery: finding peers of the same
// torrents on the local network by multicast (239.192.152.143:6771, and
// [ff15::efc0:988f]:6771 where IPv6 works).
//
// A Service announces the info-hashes added to it, following the BEP: each
// torrent every 5 minutes, at most one message a minute, up to 20
// info-hashes per message (a round robin beyond that), each message well
// under 1400 bytes. It listens on the same groups and delivers every
// (info-hash, peer address) it hears from another host to OnPeer; our own
// announces, looped back by multicast, carry a random cookie and are
// ignored. Incoming messages are parsed within bounds (ParseMessage,
// fuzzed) and rate-limited.
//
//	svc, err := lsd.New(ctx, lsd.Config{Port: listenPort, OnPeer: client.lsdPeer})
//	defer svc.Close()
//	svc.Add(infoHash)    // a non-private torrent started
//	svc.Remove(infoHash) // it stopped
//
// Private torrents (BEP 27) must never be added: the client enforces it.
// Its methods are safe for concurrent use; Close waits for its goroutines.
package lsd
