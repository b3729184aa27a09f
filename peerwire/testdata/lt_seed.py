# Seeds argv[1] (a .torrent) from the directory argv[2] with libtorrent,
# listening on 127.0.0.1 only, and prints "PORT <n>" once it is seeding.
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
})
ti = lt.torrent_info(sys.argv[1])
h = ses.add_torrent({"ti": ti, "save_path": sys.argv[2]})
deadline = time.time() + 30
while not h.status().is_seeding:
    if time.time() > deadline:
        print("ERROR not seeding: %s" % h.status().state, flush=True)
        sys.exit(1)
    time.sleep(0.05)
print("PORT %d" % ses.listen_port(), flush=True)
threading.Thread(target=sys.stdin.read, daemon=True).start()
sys.stdin.read()
