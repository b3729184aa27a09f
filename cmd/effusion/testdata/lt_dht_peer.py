#!/usr/bin/python3
"""A libtorrent peer that finds its swarm through the DHT only, for
Effusion's DHT interop tests (no tracker, no LSD, no peers given).

  lt_dht_peer.py seed   TORRENT DIR PORT BOOT[,BOOT]   seed DIR's data; prints
      "READY" once seeding, "ANNOUNCED" once the first DHT announce is forced
      (then every 2 s); runs until SIGTERM or 120 s
  lt_dht_peer.py magnet IH      DIR PORT BOOT[,BOOT]   download the torrent of
      info-hash IH (40 hex digits) from a magnet link with nothing else in it;
      prints "METADATA" and "COMPLETE"; exits 0, or 3 after 120 s

Each peer connection is printed once as "PEER IP:PORT utp=0|1". The DHT is
a loopback one: libtorrent's restrictions for the public DHT are off.
Imports only under /usr/bin/python3 (Debian's python3-libtorrent).
"""
import faulthandler
import os
import signal
import subprocess
import sys
import time

faulthandler.enable()
if not os.environ.get('LT_DHT_CHILD'):
    # Debian's libtorrent binding crashes (SIGSEGV) now and then under load:
    # the work runs in a child, started again (at most three times) when it
    # dies of a signal. Both modes go on from their data on the same port.
    env = dict(os.environ, LT_DHT_CHILD='1')
    for attempt in range(3):
        child = subprocess.Popen([sys.executable] + sys.argv, env=env)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda n, _f, c=child: c.send_signal(n))
        rc = child.wait()
        if rc >= 0:
            sys.exit(rc)
        print('lt_dht_peer.py: libtorrent died of signal %d; again' % -rc, file=sys.stderr, flush=True)
    sys.exit(128 - rc)

import libtorrent as lt  # noqa: E402 (only the child needs it)

mode, arg, ddir, port, boot = sys.argv[1:6]
s = lt.session({
    'listen_interfaces': '127.0.0.1:%s' % port,
    'outgoing_interfaces': '127.0.0.1',
    'enable_dht': True, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'dht_bootstrap_nodes': boot,
    'dht_restrict_routing_ips': False, 'dht_restrict_search_ips': False,
    'dht_ignore_dark_internet': False, 'dht_prefer_verified_node_ids': False,
    'dht_enforce_node_id': False,
    # Every node is 127.0.0.1: without this libtorrent's per-IP flood ban
    # bans them all after one lookup.
    'dht_block_ratelimit': 1000000,
    'allow_multiple_connections_per_ip': True,
    'alert_mask': lt.alert_category.status | lt.alert_category.error,
})
for b in boot.split(','):
    host, p = b.rsplit(':', 1)
    s.add_dht_node((host, int(p)))

atp = lt.add_torrent_params()
atp.save_path = ddir
if mode == 'seed':
    atp.ti = lt.torrent_info(arg)
elif mode == 'magnet':
    atp = lt.parse_magnet_uri('magnet:?xt=urn:btih:' + arg)
    atp.save_path = ddir
else:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
h = s.add_torrent(atp)

stop = {'v': False}
signal.signal(signal.SIGTERM, lambda *_: stop.update(v=True))
signal.signal(signal.SIGINT, lambda *_: stop.update(v=True))
t0, last, rc = time.time(), 0.0, 0
ready = announced = meta = False
seen = set()
while not stop['v']:
    s.wait_for_alert(100)
    for a in s.pop_alerts():
        if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
            print('ERR', a.message(), file=sys.stderr, flush=True)
    for p in h.get_peer_info():
        key = (p.ip[0], p.ip[1], int(bool(p.flags & (1 << 17))))
        if key not in seen:
            seen.add(key)
            print('PEER %s:%d utp=%d' % key, flush=True)
    st = h.status()
    now = time.time()
    if mode == 'magnet' and not meta and st.has_metadata:
        meta = True
        print('METADATA', flush=True)
    if mode == 'seed' and not ready and st.is_seeding:
        ready = True
        print('READY', flush=True)
    # The DHT is asked and told on a timer: libtorrent's own schedule is
    # minutes apart.
    if now - last > 2:
        last = now
        h.force_dht_announce()
        if ready and not announced:
            announced = True
            print('ANNOUNCED', flush=True)
        print('%6.1fs %s prog=%.3f peers=%d' % (now - t0, st.state, st.progress, st.num_peers),
              file=sys.stderr, flush=True)
    if mode == 'magnet' and st.is_seeding:
        print('COMPLETE %.3f' % (now - t0), flush=True)
        break
    if now - t0 > 120:
        if mode == 'magnet':
            print('TIMEOUT', file=sys.stderr, flush=True)
            rc = 3
        break
s.pause()
del s
sys.exit(rc)
