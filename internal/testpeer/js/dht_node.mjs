// A webtorrent bittorrent-dht node for Effusion's interop tests.
// usage: node dht_node.mjs PORT BOOT[,BOOT...] [LOOKUP_IH] [ANNOUNCE_IH ANNOUNCE_PORT]
// Prints "READY nodes=N", "PEER HOST:PORT IH" for each peer found,
// "ANNOUNCED" (or "ANNOUNCE_ERROR msg"); exits when stdin closes or after
// 60 s.
import DHT from 'bittorrent-dht'

const [,, port, boot, lookupIh, announceIh, announcePort] = process.argv
const dht = new DHT({ bootstrap: boot.split(','), host: false })
dht.on('error', e => console.log('ERROR', e.message))
dht.on('warning', e => console.log('WARNING', e.message))
dht.on('peer', (peer, ih) => console.log('PEER', peer.host + ':' + peer.port, ih.toString('hex')))
dht.listen(Number(port), '127.0.0.1')
const lookup = () => { if (lookupIh) dht.lookup(lookupIh, () => {}) }
dht.on('ready', () => {
  console.log('READY nodes=' + dht.toJSON().nodes.length)
  lookup()
  if (announceIh) {
    dht.announce(announceIh, Number(announcePort), err => console.log(err ? 'ANNOUNCE_ERROR ' + err.message : 'ANNOUNCED'))
  }
})
// Lookups are repeated: the peer may be announced after the first one.
const again = setInterval(lookup, 2000)
const quit = () => { clearInterval(again); dht.destroy(() => process.exit(0)) }
process.stdin.on('end', quit)
process.stdin.resume()
setTimeout(quit, 60000)
