package testpeer

import "strconv"

// Aria2Args returns aria2c options that make it a plain BitTorrent peer on
// 127.0.0.1:port: no DHT, local peer discovery or peer exchange (peers meet
// only through the tracker or an explicit address), IPv4 only, no
// encryption required, no user configuration file, quiet output. Callers
// append what their test needs (seeding time, directory, the torrent).
func Aria2Args(port int) []string {
	return []string{"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=false", "--listen-port=" + strconv.Itoa(port), "--interface=127.0.0.1",
		"--disable-ipv6=true", "--bt-require-crypto=false", "--bt-min-crypto-level=plain",
		"--bt-save-metadata=false", "--console-log-level=warn", "--summary-interval=0",
		"--no-conf=true"}
}
