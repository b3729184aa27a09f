#!/bin/bash
# stream.sh - streaming benchmark on loopback: a player reading one file at a
# constant rate while the torrent downloads, with seeks, through each client.
#
# Usage: bench/stream.sh [-s SIZE_MIB] [-l PIECE_KIB] [-r RATE] [-g SEGMENT_S]
#                        [-k SEEKS] [-m "MODES"] [-c "CLIENTS"] [-S SEEDERS]
#                        [-n RUNS] [-T] [-W] [-p BASE_PORT] [-o OUTDIR]
#   SIZE_MIB   payload size (default 256), one file of random bytes
#   PIECE_KIB  piece length (default 256)
#   RATE       the player's read rate in bytes/s (default 4MiB)
#   SEGMENT_S  seconds played before each seek and after the last (default 10)
#   SEEKS      seek targets, N% or byte offsets (default "75%,0")
#   MODES      any of: torrent magnet (default: both)
#   CLIENTS    any of: anacrolix effusion lib (default: all three; effusion
#              is `effusion stream` read over HTTP, lib Effusion's library
#              in the player's process, like anacrolix)
#   SEEDERS    lt (default; libtorrent, serves magnet metadata) or effusion
#              (`effusion seed --upload-rate`; torrent mode only)
#   RUNS       runs per (mode, client), alternating clients (default 1)
#   -T         the eighth seeder stalls 4 s out of every 10 (lt seeders only)
#   -W         cold seeders: skip the warm-up (by default every seeder has
#              sent a probe one block of the last piece, warm_seeders.py,
#              before the client starts, as seeders of a real swarm are
#              already serving; a libtorrent seeder just started unchokes
#              its first peer and sends its first block over a second late,
#              which would set every client's first byte)
#   BASE_PORT  first seeder port (default 37100; ports in use are skipped)
#   OUTDIR     JSON per run and summary.md (default
#              $BENCH_WORK/stream-results/YYYYmmdd-HHMMSS)
#   env: BENCH_WORK (default $TMPDIR/effusion-bench)
#
# Eight upload-limited seeders (six at 2 MiB/s, one at 1 MiB/s, one at
# 512 KiB/s: 13.5 MiB/s in all) are started afresh for every measured run,
# all on 127.0.0.1. The player is bench/streamplay, linked with anacrolix
# (bench/stream: streamread) or with Effusion's library (bench/streamlib:
# streamlib), or reading `effusion stream`'s URL (streamread -cmd): it records the
# time to the first byte from the client's start (for a magnet, metadata
# included), the time to the first byte after each seek, every read's wait
# and the stalls (reads after the first that waited more than 1 s), and
# compares every byte read with the payload. Each client downloads the
# whole file in the background while it streams.
set -u
export LC_ALL=C

SIZE_MIB=256; PIECE_KIB=256; RATE=4MiB; SEGMENT=10; SEEKS="75%,0"; MODES="torrent magnet"
CLIENTS="anacrolix effusion lib"; SEEDERS=lt; RUNS=1; STALLER=0; WARM=1; BASE_PORT=37100; OUTDIR=""
while getopts "s:l:r:g:k:m:c:S:n:TWp:o:h" opt; do
    case $opt in
        s) SIZE_MIB=$OPTARG;; l) PIECE_KIB=$OPTARG;; r) RATE=$OPTARG;; g) SEGMENT=$OPTARG;;
        k) SEEKS=$OPTARG;; m) MODES=$OPTARG;; c) CLIENTS=$OPTARG;; S) SEEDERS=$OPTARG;;
        n) RUNS=$OPTARG;; T) STALLER=1;; W) WARM=0;; p) BASE_PORT=$OPTARG;; o) OUTDIR=$OPTARG;;
        *) sed -n '2,42p' "$0"; exit 2;;
    esac
done

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
PY=/usr/bin/python3    # Debian's python3-libtorrent imports only here
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/effusion-bench}
OUTDIR=${OUTDIR:-$WORK/stream-results/$(date +%Y%m%d-%H%M%S)}
RATES=(2097152 2097152 2097152 2097152 2097152 2097152 1048576 524288)
mkdir -p "$WORK" "$OUTDIR"

die() { echo "stream.sh: $*" >&2; exit 1; }
"$PY" -c 'import libtorrent' 2>/dev/null || die "python3-libtorrent is missing (apt-get install python3-libtorrent)"
command -v mktorrent >/dev/null || die "mktorrent is missing (apt-get install mktorrent)"

echo "== building streamread, streamlib and effusion"
(cd "$BENCH/stream" && go build -o "$WORK/streamread" .) || die "building bench/stream failed"
(cd "$BENCH/streamlib" && go build -o "$WORK/streamlib" .) || die "building bench/streamlib failed"
(cd "$ROOT" && go build -o "$WORK/effusion" ./cmd/effusion) || die "building effusion failed"
EFFUSION=$WORK/effusion

PAYDIR=$WORK/stream-payload-${SIZE_MIB}M
PAYLOAD=$PAYDIR/stream.bin
TORRENT=$PAYDIR/stream-${PIECE_KIB}k.torrent
mkdir -p "$PAYDIR"
if [ "$(stat -c %s "$PAYLOAD" 2>/dev/null)" != $((SIZE_MIB * 1048576)) ]; then
    echo "== making a ${SIZE_MIB} MiB payload"
    head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$PAYLOAD" || die "payload"
    rm -f "$TORRENT"
fi
if [ ! -s "$TORRENT" ]; then
    log2=0; v=$((PIECE_KIB * 1024)); while [ $v -gt 1 ]; do v=$((v / 2)); log2=$((log2 + 1)); done
    mktorrent -l $log2 -o "$TORRENT" "$PAYLOAD" >/dev/null || die "mktorrent"
fi
INFOHASH=$("$PY" -c 'import libtorrent as lt, sys; print(lt.torrent_info(sys.argv[1]).info_hash())' "$TORRENT")
LASTPIECE=$("$PY" -c 'import libtorrent as lt, sys; print(lt.torrent_info(sys.argv[1]).num_pieces() - 1)' "$TORRENT")

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORTS=()
p=$BASE_PORT
while [ ${#PORTS[@]} -lt ${#RATES[@]} ]; do
    port_free $p && PORTS+=("$p")
    p=$((p + 1))
done
PEERS=$(printf '127.0.0.1:%s,' "${PORTS[@]}"); PEERS=${PEERS%,}
MAGNET="magnet:?xt=urn:btih:$INFOHASH&dn=stream.bin"
for pp in "${PORTS[@]}"; do MAGNET="$MAGNET&x.pe=127.0.0.1:$pp"; done

SEED_PIDS=()
start_seeders() {
    SEED_PIDS=()
    local k
    for k in "${!RATES[@]}"; do
        local port=${PORTS[$k]} rate=${RATES[$k]} log=$WORK/stream-seed-$k.log
        if [ "$SEEDERS" = effusion ]; then
            timeout 600 "$EFFUSION" seed "$TORRENT" -d "$PAYDIR" --bind 127.0.0.1 --port "$port" \
                --upload-rate "$rate" >"$log" 2>&1 &
        else
            local stall=()
            [ $STALLER = 1 ] && [ "$k" = 7 ] && stall=(--stall-every 10 --stall-for 4)
            timeout 600 "$PY" "$BENCH/stream/lt_seed.py" "$TORRENT" "$PAYDIR" "$port" "$rate" "${stall[@]}" >"$log" 2>&1 &
        fi
        SEED_PIDS+=($!)
    done
    local deadline=$((SECONDS + 60))
    for port in "${PORTS[@]}"; do
        until ! port_free "$port"; do
            [ $SECONDS -gt $deadline ] && die "seeder on port $port did not start (see $WORK/stream-seed-*.log)"
            sleep 0.2
        done
    done
    sleep 1 # let them finish starting (an effusion seeder checks its data first)
    if [ $WARM = 1 ]; then
        "$PY" "$BENCH/stream/warm_seeders.py" "$INFOHASH" "$LASTPIECE" "${PORTS[@]}" || echo "   (a seeder failed the warm-up)"
    fi
}
stop_seeders() {
    local pid
    for pid in "${SEED_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${SEED_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    SEED_PIDS=()
}
trap 'stop_seeders' EXIT

# The effusion slot: the command a player would start. `effusion stream`
# prints a URL serving the file with Range requests; streamread starts it
# after its clock, takes the first http:// URL it prints, and stops it with
# SIGTERM at the end. Plaintext TCP peer connections, no DHT and no LSD, as
# the anacrolix anchor's (the seeders speak TCP only: under the default
# --transport both, each would cost the 500 ms uTP head start once); its own
# resume store, so that no other torrent starts with it.
effusion_cmd() { # MODE DATADIR
    local src=$TORRENT peers=""
    [ "$1" = magnet ] && src=$MAGNET
    local p
    for p in "${PORTS[@]}"; do peers="$peers --peer 127.0.0.1:$p"; done
    echo "$EFFUSION stream '$src' --file 0 --listen 127.0.0.1:0 -o '$2' --data-dir '$2/.state' --encryption off --transport tcp --no-dht --no-lsd --bind 127.0.0.1 --port 0$peers"
}
have_effusion_stream() { "$EFFUSION" stream --help >/dev/null 2>&1; }

common=(-rate "$RATE" -segment "${SEGMENT}s" -seeks "$SEEKS" -verify "$PAYLOAD" -timeout 5m)
for run in $(seq 1 "$RUNS"); do
    order=$CLIENTS
    [ $((run % 2)) = 0 ] && order=$(echo "$CLIENTS" | tr ' ' '\n' | tac | tr '\n' ' ')
    for mode in $MODES; do
        if [ "$mode" = magnet ] && [ "$SEEDERS" = effusion ]; then
            echo "-- magnet: skipped with effusion seeders (they do not serve metadata)"; continue
        fi
        for client in $order; do
            out=$OUTDIR/$client-$mode-$run.json
            data=$WORK/stream-data-$client; rm -rf "$data"; mkdir -p "$data"
            case $client in
                anacrolix)
                    src=(-torrent "$TORRENT"); [ "$mode" = magnet ] && src=(-magnet "$MAGNET")
                    cmd=("$WORK/streamread" "${src[@]}" -peers "$PEERS" -file 0 -data "$data" -source "$mode" "${common[@]}" -o "$out");;
                effusion)
                    if ! have_effusion_stream; then
                        echo "-- effusion: no \`effusion stream\` yet: skipped"; continue
                    fi
                    cmd=("$WORK/streamread" -cmd "$(effusion_cmd "$mode" "$data")" -label effusion -source "$mode" "${common[@]}" -o "$out");;
                lib)
                    src=(-torrent "$TORRENT"); [ "$mode" = magnet ] && src=(-magnet "$MAGNET")
                    cmd=("$WORK/streamlib" "${src[@]}" -peers "$PEERS" -file 0 -data "$data" -source "$mode" "${common[@]}" -o "$out");;
                *) die "unknown client $client";;
            esac
            sync; sleep 1
            start_seeders
            echo "== run $run: $client, $mode"
            "${cmd[@]}" 2>"$OUTDIR/$client-$mode-$run.log" || echo "   $client $mode failed (see $OUTDIR/$client-$mode-$run.log)"
            stop_seeders
            rm -rf "$data"
        done
    done
done

"$PY" - "$OUTDIR" <<'PYEOF' | tee "$OUTDIR/summary.md"
import glob, json, os, sys
rows = []
for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.json'))):
    r = json.load(open(f))
    seeks = ' / '.join('%.0f' % s['ttfb_ms'] for s in r['seeks']) or '-'
    rows.append('| %s | %s | %.0f | %.0f | %s | %d | %.0f | %.0f | %.0f | %.0f | %s | %s |' % (
        r['client'], r['source'], r['open_ms'], r['ttfb_ms'], seeks, r['stalls'], r['stall_ms'],
        r['wait_p50_ms'], r['wait_p99_ms'], r['wait_max_ms'],
        {True: 'yes', False: 'NO', None: '-'}[r.get('verified')], r.get('error', '') or os.path.basename(f)))
print('| client | source | open ms | first byte ms | after each seek ms | stalls | stall ms | wait p50 ms | p99 ms | max ms | bytes ok | run |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|')
print('\n'.join(rows))

# Medians (min..max) over the runs of each client and source.
def num(v):
    return '%.0f' % v if v >= 10 else '%.1f' % v if v >= 1 else '%.2f' % v
def med(xs):
    xs = sorted(xs)
    if not xs:
        return '-'
    m = xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2
    return '%s (%s..%s)' % (num(m), num(xs[0]), num(xs[-1]))
groups = {}
for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.json'))):
    r = json.load(open(f))
    groups.setdefault((r['client'], r['source']), []).append(r)
nseeks = max([len(r['seeks']) for rs in groups.values() for r in rs] or [0])
print()
print('| client | source | runs | first byte ms | ' + ' | '.join('after seek %d ms' % (k + 1) for k in range(nseeks)) +
      ' | stalls (runs with any) | stall s | longest read ms | bytes ok |')
print('|---|---|---|---|' + '---|' * nseeks + '---|---|---|---|')
for (client, source), rs in sorted(groups.items()):
    seeks = [med([r['seeks'][k]['ttfb_ms'] for r in rs if len(r['seeks']) > k]) for k in range(nseeks)]
    print('| %s | %s | %d | %s | %s | %d (%d) | %.1f | %s | %s |' % (
        client, source, len(rs), med([r['ttfb_ms'] for r in rs]), ' | '.join(seeks),
        sum(r['stalls'] for r in rs), sum(1 for r in rs if r['stalls']), sum(r['stall_ms'] for r in rs) / 1000,
        med([r['wait_max_ms'] for r in rs]), 'yes' if all(r.get('verified') for r in rs) else 'NO'))
PYEOF
