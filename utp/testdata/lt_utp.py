# A libtorrent peer that speaks uTP only, for the utp package's interop tests.
# usage: lt_utp.py DIR [PEER_HOST:PORT | make]
# Writes a 4 MiB payload (byte i is i*7 % 251) to DIR/payload, makes a v1
# torrent of it (256 KiB pieces; "make" writes it to DIR/payload.torrent,
# prints "IH <hex>" and exits), seeds it listening on 127.0.0.1, prints
# "PORT <n>" and "IH <hex>", connects to PEER if given, then prints
# "PEER <ip>:<port> utp=<bool> client=<name>" for each peer it sees. Exits
# when stdin closes. Run with the python3 that has libtorrent.
import os
import sys
import threading
import time

import libtorrent as lt

d = sys.argv[1]
path = os.path.join(d, "payload")
with open(path, "wb") as f:
    f.write(bytes((i * 7) % 251 for i in range(4 << 20)))
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, 256 << 10, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, d)
ti = lt.torrent_info(ct.generate())
if sys.argv[2:] == ["make"]:
    with open(os.path.join(d, "payload.torrent"), "wb") as f:
        f.write(lt.bencode(ct.generate()))
    print("IH %s" % str(ti.info_hash()), flush=True)
    sys.exit(0)

ses = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "enable_outgoing_tcp": False,
    "enable_incoming_tcp": False,
    "enable_outgoing_utp": True,
    "enable_incoming_utp": True,
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "out_enc_policy": 2,  # plaintext handshakes: the test reads them
    "in_enc_policy": 1,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
})
h = ses.add_torrent({"ti": ti, "save_path": d})
deadline = time.time() + 30
while not h.status().is_seeding:
    if time.time() > deadline:
        print("ERROR not seeding: %s" % h.status().state, flush=True)
        sys.exit(1)
    time.sleep(0.05)
print("PORT %d" % ses.listen_port(), flush=True)
print("IH %s" % str(ti.info_hash()), flush=True)
if len(sys.argv) > 2:
    host, port = sys.argv[2].rsplit(":", 1)
    h.connect_peer((host, int(port)))

stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
seen = set()
while not stop.is_set():
    for p in h.get_peer_info():
        key = (p.ip, bool(p.flags & (1 << 17)), p.client)
        if key not in seen:
            seen.add(key)
            print("PEER %s:%d utp=%s client=%s" % (p.ip[0], p.ip[1], key[1], p.client), flush=True)
    time.sleep(0.05)
