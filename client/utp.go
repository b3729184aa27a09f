package client

import (
	"github.com/effusion-bt/effusion/transport"
	"github.com/effusion-bt/effusion/utp"
)

// utpBuffer is each uTP connection's receive window and send buffer (which
// also caps its congestion window). The package's default, 4 MiB each way,
// would let 500 busy peers hold 4 GiB; 1 MiB keeps a peer at 10 MB/s over
// a 100 ms path, and loopback transfers at full speed (docs/BENCHMARKS.md),
// and both buffers grow only as data waits in them.
const utpBuffer = 1 << 20

// listenConfig is the client's listening port: TCP and, on the same port
// number, uTP (which the DHT shares).
func (c Config) listenConfig() transport.ListenConfig {
	return transport.ListenConfig{
		Addr:       c.ListenAddr,
		Logger:     c.Logger,
		Encryption: c.Encryption,
		UTP:        true,
		UTPConfig:  utp.Config{RecvBuffer: utpBuffer, SendBuffer: utpBuffer},
	}
}

// SetTransport changes how peers are dialled, from the next dial.
func (c *Client) SetTransport(m transport.Mode) { c.env.SetTransport(m) }
