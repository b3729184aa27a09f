// Drives a Transmission RPC server with @ctrl/transmission (the client
// media managers use): add a .torrent, getAllData, pause, resume, remove.
// Usage: node transmission_client.mjs PORT FILE.torrent DOWNLOAD_DIR
// Prints one line per step: "added HASH", "all JSON", "paused STATE",
// "resumed STATE", "left N".
import { readFileSync } from 'node:fs'
import { Transmission } from '@ctrl/transmission'

const [port, torrent, dir] = process.argv.slice(2)
const c = new Transmission({ baseUrl: `http://127.0.0.1:${port}/`, path: '/transmission/rpc' })
const added = await c.addTorrent(readFileSync(torrent), { 'download-dir': dir })
const hash = added.arguments['torrent-added'].hashString
console.log('added', hash)
let all = await c.getAllData()
console.log('all', JSON.stringify(all.torrents.map(t => [t.id, t.name, t.state, t.savePath, t.totalSize])))
await c.pauseTorrent(hash)
console.log('paused', (await c.getTorrent(hash)).state)
await c.resumeTorrent(hash)
console.log('resumed', (await c.getTorrent(hash)).state)
await c.removeTorrent(hash, false)
all = await c.getAllData()
console.log('left', all.torrents.length)
