#!/usr/bin/python3
"""report.py [-o OUTDIR] RESULTS.csv [...] -> OUTDIR/summary.md and OUTDIR/chart.png

Reads the rows bench.sh writes (one per run) and summarises each (scenario,
client): the median and spread (min..max) of throughput, CPU seconds per GiB and
peak RSS over the runs that verified, each client's throughput and CPU as a ratio
against Effusion's, and the headline figures for Effusion: its throughput against
the fastest other client, its CPU per GiB against the most frugal, its peak RSS
and its fraction of the machine ceiling. The chart needs python3-matplotlib; the
Markdown is written without it.
"""
import csv
import os
import statistics as st
import sys
from collections import OrderedDict

SCENARIOS = OrderedDict([
    ('leech', 'Leecher race: one libtorrent seeder, each client downloads'),
    ('seed', 'Seeder race: one libtorrent leecher, each client seeds'),
    ('pairs', 'Pairs: each client seeding to itself'),
    ('swarm', 'Swarm: one seeder and N leechers of the same client (aggregate throughput)'),
    ('utp', 'uTP pairs: each client seeding to itself over uTP only (TCP off both ways)'),
    ('mse', 'Encrypted pairs: each client seeding to itself, MSE with RC4 required both ways'),
    ('ceiling', 'Machine ceiling: loopback TCP from page cache, SHA-1 per piece, pwrite'),
])
NAMES = {'effusion': 'Effusion', 'lt': 'libtorrent', 'anacrolix': 'anacrolix',
         'aria2': 'aria2', 'transmission': 'Transmission', 'qbittorrent': 'qBittorrent',
         'ceiling': 'ceiling'}
US = 'effusion'
US_TCP = {}  # Effusion's TCP pairs figures, for the uTP scenario's ratio


def fnum(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def spread(xs, fmt='%.0f'):
    if not xs:
        return '-'
    return (fmt + ' (' + fmt + '..' + fmt + ')') % (st.median(xs), min(xs), max(xs))


def load(files):
    groups = OrderedDict()
    meta = {}
    for fn in files:
        with open(fn) as f:
            for r in csv.DictReader(f):
                groups.setdefault((r['scenario'], r['client']), []).append(r)
                meta.setdefault('size', r['size_mib'])
                meta.setdefault('piece', r['piece_kib'])
                meta.setdefault('stamp', r['stamp'])
                meta.setdefault('commit', r.get('commit', '?'))
    return groups, meta


def stats(rows, scenario):
    ok = [r for r in rows if r['verify'] == 'ok']
    key = 'mbps_aggregate' if scenario == 'swarm' else 'mbps_per_leecher'
    s = {
        'runs': len([r for r in rows if r['verify'] != 'skip']),
        'skip': all(r['verify'] == 'skip' for r in rows),
        'ok': len(ok),
        'mbps': [fnum(r[key]) for r in ok if fnum(r[key])],
        'cpu': [fnum(r['cpu_s_per_gib']) for r in ok if fnum(r['cpu_s_per_gib']) is not None],
        'rss': [fnum(r['rss_mib']) for r in ok if fnum(r['rss_mib']) is not None],
        'scpu': [fnum(r['seed_cpu_s']) for r in ok if fnum(r['seed_cpu_s']) is not None],
        'nleech': rows[0]['nleech'],
    }
    size = int(rows[0]['size_mib']) * 1048576
    n = int(rows[0]['nleech'] or 1)
    s['tdone'] = [size * n / fnum(r['t_done_s']) / 1e6 for r in ok
                  if fnum(r['t_done_s']) and fnum(r['t_done_s']) > 0]
    s['med'] = st.median(s['mbps']) if s['mbps'] else None
    s['cpumed'] = st.median(s['cpu']) if s['cpu'] else None
    s['rssmed'] = st.median(s['rss']) if s['rss'] else None
    return s


def ratio(a, b, fmt='%.2f'):
    if a is None or b is None or b == 0:
        return '-'
    return fmt % (a / b)


def glance(sc, us, others, ceiling):
    """Effusion's headline figures for one scenario and which goals they meet."""
    h = {'scenario': sc, 'goals': []}
    h['mbps'] = '%.0f' % us['med'] if us['med'] else 'FAIL'
    h['rss'] = '%.0f' % us['rssmed'] if us['rssmed'] is not None else '-'
    h['ceil'] = '-'
    if sc in ('leech', 'pairs') and ceiling and us['med']:
        frac = us['med'] / ceiling
        h['ceil'] = '%.0f%%' % (100 * frac)
        h['goals'].append('ceiling %s' % ('met' if frac >= 0.6 else 'missed'))
    if others:
        fast = max(others, key=lambda c: others[c]['med'])
        x = us['med'] / others[fast]['med'] if us['med'] else 0
        h['fast'] = '%.2fx %s' % (x, NAMES.get(fast, fast))
        if sc in ('leech', 'pairs', 'utp', 'mse'):
            h['goals'].append('1.5x %s' % ('met' if x >= 1.5 else 'missed'))
        elif sc == 'swarm':
            h['goals'].append('>= best swarm %s' % ('met' if x >= 1 else 'missed'))
        frug = [c for c in others if others[c]['cpumed']]
        if frug:
            f = min(frug, key=lambda c: others[c]['cpumed'])
            h['frugal'] = '%s vs %.2f (%s)' % ('%.2f' % us['cpumed'] if us['cpumed'] is not None else '-',
                                               others[f]['cpumed'], NAMES.get(f, f))
            if sc in ('leech', 'pairs') and us['cpumed'] is not None:
                h['goals'].append('CPU %s' % ('met' if us['cpumed'] <= others[f]['cpumed'] else 'missed'))
    if sc in ('leech', 'pairs') and us['rssmed'] is not None:
        h['goals'].append('RSS %s' % ('met' if us['rssmed'] < 64 else 'missed'))
    return h


def markdown(groups, meta):
    out = []
    out.append('# Loopback benchmark: Effusion and other clients\n')
    out.append('Payload: %s MiB, one file, %s KiB pieces; run %s, Effusion at commit %s. Generated by '
               '`bench/report.py` from `results.csv` (one row per run, written by `bench/bench.sh`).\n' % (
                   meta.get('size'), meta.get('piece'), meta.get('stamp'), meta.get('commit')))
    out.append('MB/s is 10^6 bytes per second of wall time from launching the measured '
               'client(s) to their exit (startup, transfer, hash checks and shutdown included); '
               'CPU is user+system seconds per GiB moved by the measured side (the leecher, '
               'or the seeder in the seeder race); RSS is the peak resident set from '
               '`/usr/bin/time -v` (for libtorrent and qBittorrent it includes the mmapped '
               'file pages). "vs Effusion" is the client\'s figure divided by Effusion\'s.\n')
    intro, out = out, []
    ceiling = None
    if ('ceiling', 'ceiling') in groups:
        ceiling = stats(groups[('ceiling', 'ceiling')], 'ceiling')['med']
    headline = []
    for sc, title in SCENARIOS.items():
        keys = [k for k in groups if k[0] == sc]
        if not keys:
            continue
        out.append('## %s\n' % title)
        S = OrderedDict((k[1], stats(groups[k], sc)) for k in keys)
        us = S.get(US)
        hdr = '| client | ok/runs | MB/s median (min..max) | MB/s vs Effusion | CPU s/GiB median (min..max) | CPU vs Effusion | peak RSS MiB median (min..max) |'
        if sc != 'ceiling':
            hdr += ' seeder CPU s | MB/s to completion hook |'
        out.append(hdr)
        out.append('|' + '---|' * (hdr.count('|') - 1))
        for c, s in sorted(S.items(), key=lambda kv: -(kv[1]['med'] or 0)):
            if s['skip']:
                line = '| %s | n/a | skipped: Transmission drops 127/8 peers from a tracker | | | | |' % NAMES.get(c, c)
                if sc != 'ceiling':
                    line += ' | |'
                out.append(line)
                continue
            line = '| %s | %d/%d | %s | %s | %s | %s | %s |' % (
                NAMES.get(c, c), s['ok'], s['runs'], spread(s['mbps']) if s['mbps'] else 'FAIL',
                ratio(s['med'], us and us['med']), spread(s['cpu'], '%.2f'),
                ratio(s['cpumed'], us and us['cpumed']), spread(s['rss']))
            if sc != 'ceiling':
                line += ' %s | %s |' % ('%.2f' % st.median(s['scpu']) if s['scpu'] else '-',
                                         '%.0f' % st.median(s['tdone']) if s['tdone'] else '-')
            out.append(line)
        out.append('')
        if us and sc != 'ceiling':
            h = glance(sc, us, {c: x for c, x in S.items() if c != US and x['med']}, ceiling)
            tcp = (US_TCP.get('pairs') or {}).get('med')
            if sc == 'utp' and tcp and us['med']:
                h['goals'].append('%.2fx our TCP pairs: 0.5x %s' % (us['med'] / tcp, 'met' if us['med'] >= 0.5 * tcp else 'missed'))
            headline.append(h)
        if us and sc == 'pairs':
            US_TCP['pairs'] = us
    if headline:
        tbl = ['## Effusion at a glance\n',
               '| scenario | Effusion MB/s | vs fastest other | CPU s/GiB: Effusion vs most frugal other '
               '| Effusion peak RSS MiB | fraction of ceiling | goals |',
               '|---|---|---|---|---|---|---|']
        for h in headline:
            tbl.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                h['scenario'], h['mbps'], h.get('fast', '-'), h.get('frugal', '-'), h['rss'], h['ceil'],
                '; '.join(h['goals']) or '-'))
        tbl.append('\nGoals: leecher race and pairs: at least 1.5x the fastest other client, CPU per GiB '
                   'no more than the most frugal, peak RSS under 64 MiB, at least 60% of the machine '
                   'ceiling; swarm: aggregate at least the best other client\'s; uTP pairs: at least 1.5x '
                   'libtorrent\'s uTP pairs and 0.5x Effusion\'s own TCP pairs.')
        if ceiling:
            tbl.append('Machine ceiling (median): %.0f MB/s.' % ceiling)
        intro += tbl + ['']
    return '\n'.join(intro + out) + '\n'


def chart(groups, path):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        print('report.py: python3-matplotlib missing, no chart', file=sys.stderr)
        return False
    scs = [sc for sc in SCENARIOS if sc != 'ceiling' and any(k[0] == sc for k in groups)]
    clients = []
    for k in groups:
        if k[1] not in clients and k[0] != 'ceiling':
            clients.append(k[1])
    clients.sort(key=lambda c: (c != US, c))
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    width = 0.8 / max(1, len(clients))
    for ax, metric, label in ((axes[0], 'mbps', 'MB/s (swarm: aggregate)'),
                              (axes[1], 'cpu', 'CPU s per GiB (measured side)')):
        for i, c in enumerate(clients):
            xs, ys, lo, hi = [], [], [], []
            for j, sc in enumerate(scs):
                if (sc, c) not in groups:
                    continue
                v = stats(groups[(sc, c)], sc)[metric]
                if not v:
                    continue
                m = st.median(v)
                xs.append(j + (i - (len(clients) - 1) / 2) * width)
                ys.append(m)
                lo.append(m - min(v))
                hi.append(max(v) - m)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=NAMES.get(c, c))
        ax.set_xticks(range(len(scs)))
        ax.set_xticklabels(scs)
        ax.set_ylabel(label)
        ax.grid(axis='y', alpha=0.3)
    if ('ceiling', 'ceiling') in groups:
        c = stats(groups[('ceiling', 'ceiling')], 'ceiling')['med']
        if c:
            axes[0].axhline(c, color='k', linestyle='--', linewidth=1, label='machine ceiling')
    axes[0].legend(fontsize=8)
    axes[0].set_title('Throughput, median of runs (bars: min..max)')
    axes[1].set_title('CPU per GiB, median of runs (lower is better)')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def main():
    args = sys.argv[1:]
    outdir = '.'
    if args[:1] == ['-o']:
        outdir, args = args[1], args[2:]
    if not args:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    groups, meta = load(args)
    md = markdown(groups, meta)
    with open(os.path.join(outdir, 'summary.md'), 'w') as f:
        f.write(md)
    chart(groups, os.path.join(outdir, 'chart.png'))
    sys.stdout.write(md)


if __name__ == '__main__':
    main()
