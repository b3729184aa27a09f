# A libtorrent peer on 127.0.0.1 for PEX interop tests, plaintext only:
# adds the magnet link argv[1] (save path argv[2]), prints "PORT <n>",
# then "PEER <ip>:<port>" for each peer it connects to or accepts, once.
# Exits when stdin closes. Run with the python3 that has libtorrent.
import sys
import threading
import time

import libtorrent as lt

ses = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "alert_mask": 0,
    "out_enc_policy": 2,
    "in_enc_policy": 2,
    "allow_multiple_connections_per_ip": True,
})
p = lt.parse_magnet_uri(sys.argv[1])
p.save_path = sys.argv[2]
h = ses.add_torrent(p)
print("PORT %d" % ses.listen_port(), flush=True)


def watch():
    seen = set()
    while True:
        for pi in h.get_peer_info():
            ip, port = pi.ip
            key = "%s:%d" % (ip, port)
            if key not in seen:
                seen.add(key)
                print("PEER " + key, flush=True)
        time.sleep(0.05)


threading.Thread(target=watch, daemon=True).start()
sys.stdin.read()
