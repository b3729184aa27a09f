# A libtorrent peer on 127.0.0.1 for interop tests, plaintext only.
#   lt_peer.py seed TORRENT DIR   seeds TORRENT from DIR; prints "PORT <n>"
#                                 once seeding
#   lt_peer.py magnet URI DIR     adds the magnet link; prints "PORT <n>",
#                                 then "METADATA <name> <pieces> <info-hash>"
#                                 once it has the metadata (libtorrent checks
#                                 it against the info-hash itself)
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
mode, what, save = sys.argv[1], sys.argv[2], sys.argv[3]


def wait_metadata(h):
    deadline = time.time() + 120
    while not h.status().has_metadata:
        if time.time() > deadline:
            print("ERROR no metadata", flush=True)
            return
        time.sleep(0.05)
    ti = h.torrent_file()
    print("METADATA %s %d %s" % (ti.name(), ti.num_pieces(), str(ti.info_hashes().v1)), flush=True)


if mode == "seed":
    h = ses.add_torrent({"ti": lt.torrent_info(what), "save_path": save})
    deadline = time.time() + 60
    while not h.status().is_seeding:
        if time.time() > deadline:
            print("ERROR not seeding: %s" % h.status().state, flush=True)
            sys.exit(1)
        time.sleep(0.05)
    print("PORT %d" % ses.listen_port(), flush=True)
else:
    p = lt.parse_magnet_uri(what)
    p.save_path = save
    h = ses.add_torrent(p)
    print("PORT %d" % ses.listen_port(), flush=True)
    threading.Thread(target=wait_metadata, args=(h,), daemon=True).start()
sys.stdin.read()
