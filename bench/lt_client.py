#!/usr/bin/python3
"""Minimal libtorrent-rasterbar 2.0 client for the loopback benchmark.

seed:  lt_client.py seed  TORRENT DIR PORT [--max-seconds N] [--ctl DIR]
leech: lt_client.py leech TORRENT DIR PORT [--max-seconds N] [--done-file F]
                                           [--peer IP:PORT ...]

Loopback only, TCP only (uTP off; LT_UTP=1: uTP only), no DHT/LSD/UPnP/NAT-PMP, no default plugins
(no ut_pex, no ut_metadata), no rate limits, several connections per IP allowed
(every peer is 127.0.0.1).

A seeder checks its data before it announces (so hashing stays outside the
timed transfer; LT_SEED_MODE=1 uses libtorrent's seed mode instead) and runs
until SIGTERM/SIGINT or --max-seconds. A leecher exits 0 as soon as every piece
is downloaded and hash-checked (it then writes the time to --done-file).

--ctl DIR: the seeder polls DIR; an empty file named connect-IP-PORT makes it
dial IP:PORT (the file is then removed). Transmission 3.00 drops 127.0.0.0/8
peers learned from a tracker but accepts incoming loopback connections.

Needs Debian's python3-libtorrent, which imports only under /usr/bin/python3.
"""
import os
import signal
import sys
import time

import libtorrent as lt


def opt(name, default=None):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in ('seed', 'leech'):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode, tpath, ddir, port = sys.argv[1:5]
    max_s = float(opt('--max-seconds', '3600'))
    ctl = opt('--ctl')
    if ctl:
        os.makedirs(ctl, exist_ok=True)
    s = dict(lt.default_settings())
    s.update({
        'listen_interfaces': '127.0.0.1:%s' % port,
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_incoming_utp': False,
        'enable_outgoing_utp': False,
        'enable_incoming_tcp': True,
        'enable_outgoing_tcp': True,
        'allow_multiple_connections_per_ip': True,
        'upload_rate_limit': 0,
        'download_rate_limit': 0,
        'connections_limit': 200,
        'unchoke_slots_limit': -1,
        'alert_mask': lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification,
        'user_agent': 'lt-bench',
        # libtorrent's default (2000) silently drops the excess of deeper pipelines.
        'max_allowed_in_request_queue': int(os.environ.get('LT_MAX_IN_REQ', '50000')),
        'announce_to_all_trackers': True,
        'prefer_rc4': False,
        'out_enc_policy': int(os.environ.get('LT_OUT_ENC', '1')),
        'in_enc_policy': 1,
    })
    if os.environ.get('LT_ENC') == '1':
        # RC4 required both ways (the bench's mse scenario): pe_forced, and RC4
        # as the only level (enc_level.rc4 is 2; 1 is plaintext).
        s.update({'out_enc_policy': 0, 'in_enc_policy': 0, 'allowed_enc_level': int(lt.enc_level.rc4), 'prefer_rc4': True})
    if os.environ.get('LT_UTP') == '1':
        # uTP only, both ways (the bench's utp scenario).
        s.update({'enable_incoming_utp': True, 'enable_outgoing_utp': True,
                  'enable_incoming_tcp': False, 'enable_outgoing_tcp': False})
    ses = lt.session(s, 0)  # flags=0: no default plugins
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(tpath)
    atp.save_path = ddir
    if mode == 'seed' and os.environ.get('LT_SEED_MODE') == '1':
        atp.flags |= lt.torrent_flags.seed_mode
    t0 = time.time()
    h = ses.add_torrent(atp)
    for i, a in enumerate(sys.argv):
        if a == '--peer' and i + 1 < len(sys.argv):
            ip, p = sys.argv[i + 1].rsplit(':', 1)
            h.connect_peer((ip, int(p)))
    stop = {'v': False}

    def onsig(*_):
        stop['v'] = True
    signal.signal(signal.SIGTERM, onsig)
    signal.signal(signal.SIGINT, onsig)
    rc = 0
    last = 0.0
    done_file = opt('--done-file')
    while not stop['v']:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                print('ERR', a.message(), file=sys.stderr, flush=True)
        if ctl:
            for fn in os.listdir(ctl):
                if fn.startswith('connect-'):
                    _, ip, p = fn.split('-')
                    h.connect_peer((ip, int(p)))
                    os.unlink(os.path.join(ctl, fn))
        st = h.status()
        now = time.time()
        if now - last > 2.0:
            last = now
            print('%7.2fs %s prog=%.3f dl=%.1fMB/s ul=%.1fMB/s peers=%d' % (
                now - t0, st.state, st.progress, st.download_rate / 1e6,
                st.upload_rate / 1e6, st.num_peers), file=sys.stderr, flush=True)
        if mode == 'leech' and st.is_seeding:
            print('COMPLETE %.3f' % (now - t0), flush=True)
            if done_file:
                with open(done_file, 'w') as f:
                    f.write('%.6f\n' % now)
            break
        if now - t0 > max_s:
            print('TIMEOUT', file=sys.stderr, flush=True)
            rc = 3
            break
    h.pause()
    ses.pause()
    del ses
    sys.exit(rc)


if __name__ == '__main__':
    main()
