// Package dht is Effusion's room on the Mainline DHT (BEP 5): an adapter
// over github.com/anacrolix/dht/v2 (the mature Go implementation; this
// package does not implement the DHT itself) that adds what a client
// needs and what the library lacks.
//
// What it adds:
//
//   - A filter in front of the library (CheckKRPC and a per-source rate
//     limit). anacrolix/dht v2.23.0 panics, killing the process, on single
//     datagrams such as a query without its argument dictionary or a
//     response with a one-byte compact address; the filter refuses those
//     and every other malformed message before the library decodes them,
//     drops oversized datagrams, BEP 44 put/get (the library's item store
//     is unbounded), and floods from one source.
//   - An address policy (AddrPolicy): on the public DHT, nodes and peers
//     at loopback, private and link-local addresses are dropped; a DHT on
//     loopback or a LAN (tests, the demo) accepts them. The default picks
//     by the bootstrap addresses.
//   - A bounded PeerStore for announce_peer (the library's own store of
//     that version returns nothing).
//   - Saved nodes (NodeStore, NodesFile): the routing table is reloaded at
//     start and saved periodically and at Close.
//   - Announcer: a statem machine per torrent that searches (get_peers,
//     then announce_peer of our port) at start, while the torrent wants
//     peers, and every 15 minutes when it has enough.
//
// Using it: one Node per process and socket.
//
//	node, err := dht.New(ctx, dht.Config{
//		Conn:  dhtView,                             // or Listen: "0.0.0.0:6881"
//		Nodes: dht.NodesFile(filepath.Join(dataDir, "dht.nodes")),
//	})
//	defer node.Close()
//	ann, err := dht.StartAnnouncer(ctx, dht.AnnouncerConfig{
//		Node: node, InfoHash: ih, Port: listenPort,
//		OnPeers: addressBook.Add, Want: sessionWantsPeers,
//	})
//	defer ann.Stop(ctx) // before node.Close
//
// Private torrents (BEP 27) must never reach an Announcer or Search: the
// client enforces it. Peers learned from a BEP 5 PORT message go to
// Node.AddNode.
//
// Everything here is safe for concurrent use. Node.Close and
// Announcer.Stop wait for the goroutines they own; the library's own
// short-lived goroutines (replies, queries in flight) end within its
// query timeout (2 s) after Close.
package dht
