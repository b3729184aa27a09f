# A libtorrent DHT peer for the dht package's interop tests.
#   lt_dht.py seed DIR PORT BOOT[,BOOT]      make a file and a v1 torrent in DIR and
#                                            seed it with the DHT only; prints
#                                            "INFOHASH <hex>", then "ANNOUNCED" once
#                                            the announce is forced (every 2 s)
#   lt_dht.py get_peers IH PORT BOOT[,BOOT]  ask the DHT for IH every 2 s; prints
#                                            "PEER <ip>:<port>" for each peer found
# Runs until interrupted, or 60 s.
import os, sys, time
import libtorrent as lt

mode, arg, port, boot = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = lt.session({
    'listen_interfaces': '127.0.0.1:%d' % port,
    'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_bootstrap_nodes': boot,
    # A loopback DHT: no restrictions meant for the public one.
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_ignore_dark_internet': False, 'dht_prefer_verified_node_ids': False,
    'dht_enforce_node_id': False,
    # Every node is 127.0.0.1: without this, libtorrent's per-IP flood ban
    # (dht_block_ratelimit packets a second) bans them all.
    'dht_block_ratelimit': 1000000,
    # dht_get_peers_reply_alert is in the dht_operation category.
    'alert_mask': lt.alert_category.dht | lt.alert_category.dht_operation | lt.alert_category.status | lt.alert_category.error,
})
for b in boot.split(','):
    host, p = b.rsplit(':', 1)
    s.add_dht_node((host, int(p)))

h = None
if mode == 'seed':
    path = os.path.join(arg, 'payload.bin')
    with open(path, 'wb') as f:
        f.write(os.urandom(256 * 1024))
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, arg)
    ti = lt.torrent_info(ct.generate())
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = arg
    atp.flags |= lt.torrent_flags.seed_mode
    h = s.add_torrent(atp)
    print('INFOHASH', str(ti.info_hashes().v1), flush=True)
    target = None
else:
    target = lt.sha1_hash(bytes.fromhex(arg))

t0 = time.time()
announced, last_ask, seen = False, 0, set()
while time.time() - t0 < 60:
    for a in s.pop_alerts():
        if isinstance(a, lt.dht_get_peers_reply_alert):
            for ip, p in a.peers():
                if (ip, p) not in seen:
                    seen.add((ip, p))
                    print('PEER %s:%d' % (ip, p), flush=True)
    # session.status().dht_nodes stays 0 with these nodes in 2.0.8; the
    # DHT works all the same, so ask and announce on a timer.
    if h is not None and time.time() - last_ask > 2:
        h.force_dht_announce()
        last_ask = time.time()
        if not announced:
            announced = True
            print('ANNOUNCED', flush=True)
    if target is not None and time.time() - last_ask > 2:
        s.dht_get_peers(target)
        last_ask = time.time()
    time.sleep(0.1)
