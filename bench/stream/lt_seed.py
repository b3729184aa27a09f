#!/usr/bin/python3
"""An upload-limited libtorrent seeder for the streaming benchmark.

lt_seed.py TORRENT DIR PORT RATE [--stall-every S --stall-for S] [--max-seconds N]

Seeds TORRENT from DIR on 127.0.0.1:PORT, uploading at most RATE bytes/s
(to loopback peers too, which libtorrent exempts from limits by default).
Loopback only, TCP only, no DHT/LSD/UPnP/NAT-PMP; the default plugins stay
on (ut_metadata serves magnet links). The data is trusted (seed mode: no
hashing at start). With --stall-every, the upload limit drops to 1 byte/s
for --stall-for seconds out of every --stall-every seconds (a peer that
stalls). Runs until SIGTERM/SIGINT or --max-seconds.

Needs Debian's python3-libtorrent, which imports only under /usr/bin/python3.
"""
import signal
import sys
import time

import libtorrent as lt


def opt(name, default):
    if name in sys.argv:
        return float(sys.argv[sys.argv.index(name) + 1])
    return default


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    tpath, ddir, port, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    every, stall_for = opt('--stall-every', 0), opt('--stall-for', 0)
    max_s = opt('--max-seconds', 3600)
    s = {
        'listen_interfaces': '127.0.0.1:%d' % port,
        # Fail rather than listen on the next port when this one is taken
        # (the harness waits on the port it gave).
        'max_retry_port_bind': 0,
        'listen_system_port_fallback': False,
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'enable_incoming_utp': False,
        'enable_outgoing_utp': False,
        'allow_multiple_connections_per_ip': True,
        'upload_rate_limit': rate,
        'unchoke_slots_limit': -1,
        'user_agent': 'lt-stream-seed',
        'alert_mask': lt.alert.category_t.error_notification,
    }
    ses = lt.session(s)
    # libtorrent exempts local peers (127/8 among them) from rate limits:
    # put every address in the global class, which upload_rate_limit rules.
    f = lt.ip_filter()
    f.add_rule('0.0.0.0', '255.255.255.255', 1 << ses.global_peer_class_id)
    ses.set_peer_class_filter(f)
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(tpath)
    atp.save_path = ddir
    atp.flags |= lt.torrent_flags.seed_mode
    ses.add_torrent(atp)
    stop = {'v': False}

    def onsig(*_):
        stop['v'] = True
    signal.signal(signal.SIGTERM, onsig)
    signal.signal(signal.SIGINT, onsig)
    t0 = time.time()
    stalled = False
    while not stop['v'] and time.time() - t0 < max_s:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            print('ERR', a.message(), file=sys.stderr, flush=True)
        if every > 0:
            want = (time.time() - t0) % every >= every - stall_for
            if want != stalled:
                stalled = want
                ses.apply_settings({'upload_rate_limit': 1 if stalled else rate})
    ses.pause()


if __name__ == '__main__':
    main()
