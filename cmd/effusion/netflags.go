package main

import (
	"fmt"
	"net"
	"strconv"

	"github.com/effusion-bt/effusion/client"
	"github.com/effusion-bt/effusion/transport"
	"github.com/spf13/pflag"
)

// netFlags are the flags of download and seed that choose how peers are
// found and reached: the transport, the DHT and local service discovery.
type netFlags struct {
	transport    transport.Mode
	noDHT        bool
	dhtBootstrap []string
	noLSD        bool
}

func (f *netFlags) register(fl *pflag.FlagSet) {
	fl.Var(&f.transport, "transport", "how peers are dialled: both (uTP first, then TCP), tcp or utp; peers are accepted on both")
	fl.BoolVar(&f.noDHT, "no-dht", false, "do not use the DHT to find peers")
	fl.StringArrayVar(&f.dhtBootstrap, "dht-bootstrap", nil, "DHT node HOST:PORT to start from (repeatable; default: the public routers, when no nodes were saved)")
	fl.BoolVar(&f.noLSD, "no-lsd", false, "do not look for peers on the local network (BEP 14 multicast)")
}

// apply checks the flags and sets them in cfg.
func (f *netFlags) apply(cfg *client.Config) error {
	for _, b := range f.dhtBootstrap {
		host, port, err := net.SplitHostPort(b)
		if err == nil && host == "" {
			err = fmt.Errorf("no host")
		}
		if n, perr := strconv.ParseUint(port, 10, 16); err == nil && (perr != nil || n == 0) {
			err = fmt.Errorf("bad port %q", port)
		}
		if err != nil {
			return fmt.Errorf("--dht-bootstrap %q: %w", b, err)
		}
	}
	if f.noDHT && len(f.dhtBootstrap) > 0 {
		return fmt.Errorf("--dht-bootstrap with --no-dht")
	}
	cfg.Transport = f.transport
	cfg.NoDHT = f.noDHT
	cfg.DHTBootstrap = f.dhtBootstrap
	cfg.NoLSD = f.noLSD
	return nil
}

// searching says where a torrent without trackers and --peer looks for
// peers.
func (f *netFlags) searching() string {
	switch {
	case !f.noDHT && !f.noLSD:
		return "looking for peers on the DHT and the local network"
	case !f.noDHT:
		return "looking for peers on the DHT"
	case !f.noLSD:
		return "looking for peers on the local network"
	}
	return "waiting for peers to connect"
}

// utpPeers counts the peers connected over uTP.
func utpPeers(st client.Stats) int {
	n := 0
	for _, ps := range st.PeerStats {
		if ps.Transport == transport.NameUTP {
			n++
		}
	}
	return n
}
