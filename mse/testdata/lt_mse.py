# usage: lt_mse.py TORRENT DIR SETTINGS [HOST:PORT]
#
# Seeds TORRENT from DIR with libtorrent on 127.0.0.1, with the JSON
# object SETTINGS on top of the defaults below (the encryption policy, in
# the tests). Prints "PORT <n>" once seeding, then, whenever a peer
# connection appears or its encryption flags change, one line
#   PEER <ip>:<port> rc4=<0|1> plaintext_encrypted=<0|1>
# from peer_info.flags. Given HOST:PORT it also dials that peer. Exits when
# stdin closes. Run with the python3 that has libtorrent.
import json
import sys
import threading
import time

import libtorrent as lt

settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_outgoing_utp": False,
    "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
}
settings.update(json.loads(sys.argv[3]))
ses = lt.session(settings)
h = ses.add_torrent({"ti": lt.torrent_info(sys.argv[1]), "save_path": sys.argv[2]})
deadline = time.time() + 30
while not h.status().is_seeding:
    if time.time() > deadline:
        print("ERROR not seeding: %s" % h.status().state, flush=True)
        sys.exit(1)
    time.sleep(0.02)
print("PORT %d" % ses.listen_port(), flush=True)

if len(sys.argv) > 4:
    target = sys.argv[4]
    host, port = target.rsplit(":", 1)
    h.connect_peer((host, int(port)))

done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
seen = set()
while not done.is_set():
    for p in h.get_peer_info():
        key = (p.ip[0], p.ip[1], int(bool(p.flags & p.rc4_encrypted)), int(bool(p.flags & p.plaintext_encrypted)))
        if key not in seen:
            seen.add(key)
            print("PEER %s:%d rc4=%d plaintext_encrypted=%d" % key, flush=True)
    time.sleep(0.02)
