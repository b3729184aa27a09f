"""Restart timing for libtorrent, the anchor of bench/resume.

  lt_resume.py check TORRENT DIR RESUME_OUT
      adds TORRENT over the data in DIR without resume data (libtorrent
      hashes it all), prints "READY <seconds from add to seeding>", saves
      its resume data to RESUME_OUT and exits.
  lt_resume.py resume TORRENT DIR RESUME_IN
      adds it with that resume data, prints "READY <seconds>" once seeding.

No network: listening on 127.0.0.1 only, no DHT, LSD, UPnP, NAT-PMP.
Imports only under /usr/bin/python3 (Debian's python3-libtorrent).
"""
import sys
import time

import libtorrent as lt


def main():
    mode, tpath, ddir, rpath = sys.argv[1:5]
    ses = lt.session({
        'listen_interfaces': '127.0.0.1:0',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification |
                      lt.alert.category_t.storage_notification,
    })
    ti = lt.torrent_info(tpath)
    if mode == 'resume':
        with open(rpath, 'rb') as f:
            atp = lt.read_resume_data(f.read())
        atp.ti = ti
    else:
        atp = lt.add_torrent_params()
        atp.ti = ti
    atp.save_path = ddir
    t0 = time.time()
    h = ses.add_torrent(atp)
    while not h.status().is_seeding:
        ses.wait_for_alert(5)
        for a in ses.pop_alerts():
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                print('ERR', a.message(), file=sys.stderr, flush=True)
                sys.exit(1)
        if time.time() - t0 > 600:
            sys.exit(3)
    print('READY %.4f' % (time.time() - t0), flush=True)
    if mode == 'check':
        h.save_resume_data(lt.torrent_handle.save_info_dict)
        while True:
            ses.wait_for_alert(1000)
            for a in ses.pop_alerts():
                if isinstance(a, lt.save_resume_data_alert):
                    with open(rpath, 'wb') as f:
                        f.write(lt.write_resume_data_buf(a.params))
                    return
                if isinstance(a, lt.save_resume_data_failed_alert):
                    print('ERR', a.message(), file=sys.stderr, flush=True)
                    sys.exit(1)


if __name__ == '__main__':
    main()
