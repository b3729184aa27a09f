#!/usr/bin/python3
"""libtorrent-rasterbar 2.0 and web seeds, for Effusion's web seed tests.

  lt_webseed.py create PATH OUT.torrent PIECE_LEN URL
      v1-only torrent of a file or directory with BEP 47 pad files and URL
      as its web seed (url-list).
  lt_webseed.py leech TORRENT DIR [--max-seconds N]
      downloads from the torrent's web seeds only (no peers, no tracker,
      no DHT); prints "COMPLETE <web seed bytes>" and exits 0 once every
      piece is checked, exits 3 on timeout.

Loopback only. Imports only under /usr/bin/python3 (Debian's python3-libtorrent).
"""
import os
import sys
import time

import libtorrent as lt


def create(path, out, piece_len, url):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    ct = lt.create_torrent(fs, int(piece_len), flags=lt.create_torrent.v1_only | lt.create_torrent.canonical_files)
    ct.add_url_seed(url)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    with open(out, 'wb') as f:
        f.write(lt.bencode(ct.generate()))


def leech(tpath, ddir, max_s):
    s = dict(lt.default_settings())
    s.update({
        'listen_interfaces': '127.0.0.1:0',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_incoming_utp': False, 'enable_outgoing_utp': False,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
        'urlseed_wait_retry': 1,
    })
    ses = lt.session(s, 0)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(tpath)
    atp.save_path = ddir
    h = ses.add_torrent(atp)
    t0 = time.time()
    last = 0.0
    while True:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert, lt.url_seed_alert)):
                print('ERR', a.message(), file=sys.stderr, flush=True)
        st = h.status()
        now = time.time()
        if now - last > 1.0:
            last = now
            print('%6.1fs %s prog=%.3f peers=%d web=%d' % (now - t0, st.state, st.progress,
                  st.num_peers, st.total_payload_download), file=sys.stderr, flush=True)
        if st.is_seeding:
            print('COMPLETE %d' % st.total_payload_download, flush=True)
            return 0
        if now - t0 > max_s:
            print('TIMEOUT', file=sys.stderr, flush=True)
            return 3


def main():
    a = sys.argv
    if len(a) == 6 and a[1] == 'create':
        create(a[2], a[3], a[4], a[5])
    elif len(a) >= 4 and a[1] == 'leech':
        max_s = float(a[a.index('--max-seconds') + 1]) if '--max-seconds' in a else 60.0
        sys.exit(leech(a[2], a[3], max_s))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
