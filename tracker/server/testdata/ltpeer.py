#!/usr/bin/python3
"""libtorrent peer for the tracker interop test (loopback only).

make DATAFILE TRACKER_URL OUT.torrent   -> writes the torrent, prints its hex info-hash
seed|leech TORRENT DIR PORT MAXSECONDS  -> runs a session announcing to the torrent's tracker;
                                           a leecher prints COMPLETE and exits when done,
                                           a seeder runs until SIGTERM/SIGINT or MAXSECONDS.
"""
import os
import signal
import sys
import time

import libtorrent as lt


def make(data, tracker, out):
    fs = lt.file_storage()
    lt.add_files(fs, data)
    # v1 only: aria2 1.36 hashes a hybrid torrent's info differently
    t = lt.create_torrent(fs, 16384, flags=lt.create_torrent.v1_only)
    t.add_tracker(tracker)
    lt.set_piece_hashes(t, os.path.dirname(data))
    with open(out, 'wb') as f:
        f.write(lt.bencode(t.generate()))
    print(str(lt.torrent_info(out).info_hashes().v1), flush=True)


def run(mode, tpath, ddir, port, max_s):
    s = {
        'listen_interfaces': '127.0.0.1:%d' % port,
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_incoming_utp': False, 'enable_outgoing_utp': False,
        'allow_multiple_connections_per_ip': True,
        'announce_to_all_trackers': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.tracker_notification,
    }
    ses = lt.session(s, 0)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(tpath)
    atp.save_path = ddir
    h = ses.add_torrent(atp)
    stop = {'v': False}

    def onsig(*_):
        stop['v'] = True
    signal.signal(signal.SIGTERM, onsig)
    signal.signal(signal.SIGINT, onsig)
    t0 = time.time()
    rc = 0
    while not stop['v']:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            print('ALERT', a.message(), file=sys.stderr, flush=True)
        if mode == 'leech' and h.status().is_seeding:
            print('COMPLETE', flush=True)
            break
        if time.time() - t0 > max_s:
            print('TIMEOUT', file=sys.stderr, flush=True)
            rc = 3
            break
    sys.exit(rc)


if __name__ == '__main__':
    if sys.argv[1] == 'make':
        make(*sys.argv[2:5])
    else:
        run(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
