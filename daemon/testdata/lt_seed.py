# A libtorrent seeder for the daemon's download test: seeds argv[1] (a
# .torrent, whose tracker it announces to) from the directory argv[2], on
# 127.0.0.1 only, in plain TCP (no uTP, no encryption), and prints
# "PORT <n>" once it seeds. It exits when stdin closes. Run it with the
# python3 that has libtorrent.
import sys
import time

import libtorrent as lt

ses = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_outgoing_utp": False,
    "enable_incoming_utp": False,
    "out_enc_policy": 2,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
})
h = ses.add_torrent({"ti": lt.torrent_info(sys.argv[1]), "save_path": sys.argv[2]})
deadline = time.time() + 30
while not h.status().is_seeding:
    if time.time() > deadline:
        print("ERROR not seeding: %s" % h.status().state, flush=True)
        sys.exit(1)
    time.sleep(0.05)
h.force_reannounce()
print("PORT %d" % ses.listen_port(), flush=True)
try:
    sys.stdin.read()
except KeyboardInterrupt:
    pass
