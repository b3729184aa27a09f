#!/usr/bin/python3
"""A libtorrent-rasterbar 2.0 pair over uTP only, on loopback, for bench/utp.

usage: lt_pair.py DIR SIZE_MIB

Writes a SIZE_MIB payload to DIR/seed, makes a v1 torrent (1 MiB pieces),
seeds it from one session and downloads it into DIR/leech with a second
session in the same process; both have TCP off (enable_outgoing_tcp and
enable_incoming_tcp False). Prints one line of JSON: seconds from
connect_peer to the last piece checked, bytes, CPU seconds of the process
(both sessions) over that time, and whether the connection was uTP (peer
flag 1<<17). Needs Debian's python3-libtorrent (/usr/bin/python3).
"""
import json
import os
import resource
import sys
import time

import libtorrent as lt

d, size = sys.argv[1], int(sys.argv[2]) << 20
seed_dir, leech_dir = os.path.join(d, "seed"), os.path.join(d, "leech")
os.makedirs(seed_dir, exist_ok=True)
os.makedirs(leech_dir, exist_ok=True)
path = os.path.join(seed_dir, "payload")
with open(path, "wb") as f:
    chunk = os.urandom(1 << 20)
    for _ in range(size >> 20):
        f.write(chunk)
fs = lt.file_storage()
lt.add_files(fs, path)
ct = lt.create_torrent(fs, 1 << 20, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(ct, seed_dir)
ti = lt.torrent_info(ct.generate())

settings = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_outgoing_tcp": False,
    "enable_incoming_tcp": False,
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "out_enc_policy": 2,
    "in_enc_policy": 2,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": 0,
}
seeder = lt.session(settings)
leecher = lt.session(settings)
hs = seeder.add_torrent({"ti": ti, "save_path": seed_dir})
while not hs.status().is_seeding:
    time.sleep(0.01)
hl = leecher.add_torrent({"ti": lt.torrent_info(ct.generate()), "save_path": leech_dir})
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
c0, t0 = cpu(), time.time()
hl.connect_peer(("127.0.0.1", seeder.listen_port()))
utp = None
deadline = t0 + 600
while not hl.status().is_seeding:
    if utp is None:
        for p in hl.get_peer_info():
            utp = bool(p.flags & (1 << 17))
    if time.time() > deadline:
        print(json.dumps({"error": "timeout", "progress": hl.status().progress}))
        sys.exit(1)
    time.sleep(0.005)
el, c = time.time() - t0, cpu() - c0
print(json.dumps({"seconds": el, "bytes": size, "cpu_seconds": c, "utp": utp}))
