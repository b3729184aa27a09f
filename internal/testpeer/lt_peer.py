#!/usr/bin/python3
"""A libtorrent-rasterbar 2.0 peer for Effusion's interoperability tests.

  lt_peer.py create PATH OUT.torrent PIECE_LEN [--tracker URL]
      v1-only torrent of a file or directory, with BEP 47 pad files.
  lt_peer.py seed  TORRENT DIR PORT [--peer IP:PORT ...]
      checks DIR, prints "READY" once seeding, runs until SIGTERM/SIGINT.
  lt_peer.py leech TORRENT DIR PORT [--peer IP:PORT ...] [--max-seconds N]
      exits 0 once every piece is downloaded and checked, 3 on timeout.
  lt_peer.py middle TORRENT DIR PORT --peer IP:PORT
      a peer that wants nothing (every file skipped), connected to --peer,
      speaking PEX: prints "READY" once connected, runs until SIGTERM/SIGINT.
  lt_peer.py magnet URI DIR PORT [--peer IP:PORT ...] [--max-seconds N]
      the same from a magnet link (metadata from peers: its x.pe, trackers,
      --peer); prints "METADATA <seconds>" when the metadata arrived and
      "FIRSTPIECE <seconds>" when the first piece is verified.

Loopback only, TCP only, no DHT, LSD, UPnP, NAT-PMP or encryption by
default (the default plugins, ut_metadata, ut_pex and smart ban, are on); the environment variable LTSET, a JSON object of settings, is laid
over those (encryption forced, uTP only, ...); a rate limit in it applies to
loopback peers too (libtorrent otherwise exempts local peers). Each peer connection, and each
change of its encryption or transport, is printed on stdout as
  PEER IP:PORT rc4=0|1 utp=0|1
Imports only under /usr/bin/python3 (Debian's python3-libtorrent).

Debian's libtorrent binding crashes (SIGSEGV) now and then under load; the
script therefore runs its work in a child process and starts it again (at
most three times) when it dies of a signal: a leecher or magnet at any point
(it goes on from its data), a seeder or middle peer at any point when it was
given a port (it comes back on the same one), and before printing anything
when given port 0 (it would come back on another). The Python stack of a crash is printed (faulthandler).
"""
import faulthandler
import json
import os
import signal
import subprocess
import sys
import time

import libtorrent as lt


def opt(name, default=None):
    if name in sys.argv:
        return sys.argv[sys.argv.index(name) + 1]
    return default


def peers():
    out = []
    for i, a in enumerate(sys.argv):
        if a == '--peer' and i + 1 < len(sys.argv):
            ip, p = sys.argv[i + 1].rsplit(':', 1)
            out.append((ip, int(p)))
    return out


def create(path, out, piece_len):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    flags = lt.create_torrent.v1_only | lt.create_torrent.canonical_files
    ct = lt.create_torrent(fs, int(piece_len), flags=flags)
    tr = opt('--tracker')
    if tr:
        ct.add_tracker(tr)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    with open(out, 'wb') as f:
        f.write(lt.bencode(ct.generate()))


def print_peers(h, seen):
    for p in h.get_peer_info():
        key = (p.ip[0], p.ip[1], int(bool(p.flags & p.rc4_encrypted)), int(bool(p.flags & (1 << 17))))
        if key not in seen:
            seen.add(key)
            print('PEER %s:%d rc4=%d utp=%d' % key, flush=True)


def run(mode, tpath, ddir, port):
    s = dict(lt.default_settings())
    s.update({
        'listen_interfaces': '127.0.0.1:%s' % port,
        'outgoing_interfaces': '127.0.0.1',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'enable_incoming_utp': False, 'enable_outgoing_utp': False,
        'enable_incoming_tcp': True, 'enable_outgoing_tcp': True,
        'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification |
                      lt.alert.category_t.piece_progress_notification | lt.alert.category_t.storage_notification,
        'user_agent': 'lt-interop',
        'announce_to_all_trackers': True,
        'out_enc_policy': 2, 'in_enc_policy': 1,  # plaintext out, accept both
        'min_announce_interval': 1,
    })
    over = json.loads(os.environ.get('LTSET', '{}'))
    s.update(over)
    ses = lt.session(s, lt.session_flags_t.add_default_plugins)
    if any(k in over for k in ('upload_rate_limit', 'download_rate_limit')):
        # libtorrent exempts local peers (127/8 among them) from rate
        # limits: put every address in the global class, which they rule.
        f = lt.ip_filter()
        f.add_rule('0.0.0.0', '255.255.255.255', 1 << ses.global_peer_class_id)
        ses.set_peer_class_filter(f)
    if mode == 'magnet':
        atp = lt.parse_magnet_uri(tpath)
    else:
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(tpath)
    atp.save_path = ddir
    if mode == 'middle':
        atp.file_priorities = [0] * atp.ti.num_files()
    h = ses.add_torrent(atp)
    for p in peers():
        h.connect_peer(p)
    stop = {'v': False}

    def onsig(*_):
        stop['v'] = True
    signal.signal(signal.SIGTERM, onsig)
    signal.signal(signal.SIGINT, onsig)
    max_s = float(opt('--max-seconds', '120'))
    t0 = time.time()
    ready = False
    rc = 0
    last = 0.0
    seen = set()
    got_meta = got_piece = False
    while not stop['v']:
        ses.wait_for_alert(100)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                print('ERR', a.message(), file=sys.stderr, flush=True)
            if mode == 'magnet' and not got_meta and isinstance(a, lt.metadata_received_alert):
                got_meta = True
                print('METADATA %.3f' % (time.time() - t0), flush=True)
            if mode == 'magnet' and not got_piece and isinstance(a, lt.piece_finished_alert):
                got_piece = True
                print('FIRSTPIECE %.3f' % (time.time() - t0), flush=True)
        print_peers(h, seen)
        st = h.status()
        now = time.time()

        if now - last > 1.0:
            last = now
            print('%6.1fs %s prog=%.3f peers=%d dl=%d ul=%d' % (now - t0, st.state, st.progress,
                  st.num_peers, st.total_payload_download, st.total_payload_upload),
                  file=sys.stderr, flush=True)
        if mode == 'middle' and not ready and st.num_peers > 0:
            ready = True
            print('READY', flush=True)
        if mode == 'seed' and not ready and st.is_seeding:
            ready = True
            h.force_reannounce()
            print('READY', flush=True)
        if mode in ('leech', 'magnet') and st.is_seeding:
            # A small download can finish within one poll of the peers,
            # whose encryption was not known yet at the last one.
            print_peers(h, seen)
            print('COMPLETE %.3f' % (now - t0), flush=True)
            break
        if mode in ('leech', 'magnet') and now - t0 > max_s:
            print('TIMEOUT', file=sys.stderr, flush=True)
            rc = 3
            break
        if mode in ('seed', 'middle') and (now - t0 > max_s * 5):
            break
        # peers given late: retry connecting while nobody is connected
        if st.num_peers == 0 and int(now - t0) % 2 == 0:
            for p in peers():
                h.connect_peer(p)
    # Write what libtorrent still holds to the files, then leave without
    # tearing the session down through the Python binding: that crashes
    # now and then (SIGSEGV) after everything was done.
    h.flush_cache()
    t_flush = time.time()
    flushed = False
    while not flushed and time.time() - t_flush < 30:
        ses.wait_for_alert(500)
        flushed = any(isinstance(a, lt.cache_flushed_alert) for a in ses.pop_alerts())
    ses.pause()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def supervise():
    """Runs the work in a child and restarts it when it dies of a signal
    before its first line of output; relays output and SIGTERM/SIGINT."""
    env = dict(os.environ, LT_PEER_CHILD='1')
    for attempt in range(3):
        child = subprocess.Popen([sys.executable] + sys.argv, env=env, stdout=subprocess.PIPE)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda n, _f, c=child: c.send_signal(n))
        said = False
        for line in child.stdout:
            said = True
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
        rc = child.wait()
        # A leecher starts again from what it has on disk, a seeder on the
        # port it was given (the test holds it); one given port 0 that said
        # its port would come back on another, so only a silent one is.
        fixed_port = len(sys.argv) > 4 and sys.argv[4] != '0'
        if rc >= 0 or said and sys.argv[1] not in ('leech', 'magnet') and not fixed_port:
            return rc if rc >= 0 else 128 - rc
        print('lt_peer.py: the libtorrent process died of signal %d%s; again'
              % (-rc, ' after its first output' if said else ' before any output'),
              file=sys.stderr, flush=True)
    return 128 - rc


def main():
    faulthandler.enable()
    if len(sys.argv) >= 2 and sys.argv[1] != 'create' and not os.environ.get('LT_PEER_CHILD'):
        sys.exit(supervise())
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode = sys.argv[1]
    if mode == 'create' and len(sys.argv) >= 5:
        create(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode in ('seed', 'leech', 'magnet', 'middle') and len(sys.argv) >= 5:
        run(mode, sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
