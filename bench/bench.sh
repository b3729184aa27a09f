#!/bin/bash
# bench.sh - Effusion against other BitTorrent clients on loopback, in one run.
#
# Usage: bench/bench.sh [-s SIZE_MIB] [-l PIECE_KIB] [-r RUNS] [-c "CLIENTS"]
#                       [-x "SCENARIOS"] [-n SWARM_LEECHERS] [-t RUN_TIMEOUT_S]
#                       [-o OUTDIR] [-g TAG] [-k] [-a]
#   SIZE_MIB    payload size (default 1024), one file of random bytes
#   PIECE_KIB   piece length, a power of two (default 1024)
#   RUNS        runs per (scenario, client), at least 3 for medians (default 3)
#   RUN_TIMEOUT_S  limit for each measured client (default 120)
#   CLIENTS     any of: effusion lt anacrolix aria2 transmission qbittorrent
#               (default: all six)
#   SCENARIOS   any of (default: leech seed pairs swarm utp mse ceiling):
#     leech     one libtorrent seeder; each client downloads in turn
#     seed      one libtorrent leecher; each client seeds in turn
#     pairs     each client seeding to itself
#     swarm     one seeder and SWARM_LEECHERS (default 4) leechers of the same client
#     utp       pairs over uTP only (TCP off both ways): effusion and lt only
#     mse       pairs encrypted (MSE, RC4 required both ways): effusion, lt, aria2
#     ceiling   the protocol-free ceiling (bench/ceiling): loopback TCP from page
#               cache, SHA-1 per piece, pwrite
#   OUTDIR      where results.csv, summary.md and chart.png go (default docs/benchmarks)
#   -k          keep the downloaded copies afterwards (logs are always kept)
#   -a          append to OUTDIR/results.csv instead of starting it afresh
#   env: BENCH_WORK (default $TMPDIR/effusion-bench), ANACROLIX (path of the
#        anacrolix `torrent` v1.58.1 binary, default $(go env GOPATH)/bin/torrent),
#        TRACKER_PORT (default 16969; seeders use 31000-31399, leechers 21000-25000,
#        qBittorrent's WebUI those +5000; ports in use are skipped), SETTLE (seconds
#        of pause after a sync before every measured run, default 2: see settle())
#
# Runs alternate: round r runs every scenario and every client once (the client
# order rotates each round) before round r+1, so drift on a shared machine hits
# every client alike. Every run gets a fresh opentracker and fresh peer ports; every
# process is bounded by timeout(1) and talks to 127.0.0.1 only (each client is
# told to bind there where it has an option for it); every download is
# compared byte for byte with the payload (cmp). One CSV row per run.
set -u
export LC_ALL=C

SIZE_MIB=1024; PIECE_KIB=1024; RUNS=3; NSWARM=4; RUN_TIMEOUT=120; TAG=""; KEEP=0; APPEND=0
CLIENTS="effusion lt anacrolix aria2 transmission qbittorrent"
SCENARIOS="leech seed pairs swarm utp mse ceiling"
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
OUTDIR=$ROOT/docs/benchmarks
while getopts "s:l:r:c:x:n:t:o:g:kah" opt; do
    case $opt in
        s) SIZE_MIB=$OPTARG;; l) PIECE_KIB=$OPTARG;; r) RUNS=$OPTARG;;
        c) CLIENTS=$OPTARG;; x) SCENARIOS=$OPTARG;; n) NSWARM=$OPTARG;;
        t) RUN_TIMEOUT=$OPTARG;; o) OUTDIR=$OPTARG;; g) TAG=$OPTARG;; k) KEEP=1;; a) APPEND=1;;
        *) sed -n '2,35p' "$0"; exit 2;;
    esac
done

PY=/usr/bin/python3    # Debian's python3-libtorrent imports only here
ANACROLIX=${ANACROLIX:-$(go env GOPATH)/bin/torrent}
WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/effusion-bench}
TRACKER_PORT=${TRACKER_PORT:-16969}
SETTLE=${SETTLE:-2}
SIZE_B=$((SIZE_MIB * 1048576))
PAYDIR=$WORK/payload-${SIZE_MIB}M
STAMP=$(date +%Y%m%d-%H%M%S)
SESSION=$WORK/sess-$STAMP
RESULTS=$OUTDIR/results.csv
BIN=$WORK/bin
mkdir -p "$WORK" "$SESSION" "$OUTDIR" "$BIN"
LOG=$SESSION/bench.log
log() { echo "[$(date +%T)] $*" | tee -a "$LOG" >&2; }

# ------------------------------------------------------------ process hygiene
BG_PIDS=()
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
cleanup() {
    local all=() p
    for p in "${BG_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || continue
        all+=("$p" $(descendants "$p"))
    done
    if [ ${#all[@]} -gt 0 ]; then
        for p in "${all[@]}"; do kill -TERM "$p" 2>/dev/null; done
        sleep 1
        for p in "${all[@]}"; do kill -KILL "$p" 2>/dev/null; done
    fi
    [ "$KEEP" = 1 ] || rm -rf "$SESSION"/*/l*/dl "$SESSION"/*/l*/prof
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
fdiff() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
# utime+stime in seconds of a process and all its descendants (live ones)
tree_cpu() {
    local p t=0 hz; hz=$(getconf CLK_TCK)
    for p in "$1" $(descendants "$1"); do
        [ -r "/proc/$p/stat" ] || continue
        t=$(sed 's/^.*) //' "/proc/$p/stat" | awk -v t="$t" -v hz="$hz" '{printf "%.2f", t+($12+$13)/hz}')
    done
    echo "$t"
}
timefield() { grep -F "$2" "$1" 2>/dev/null | awk -F': ' '{print $2}' | head -1; }

# ------------------------------------------------------------ set-up
check_tools() {
    local t missing=""
    for t in opentracker mktorrent curl cmp go; do command -v $t >/dev/null || missing="$missing $t"; done
    [ -x /usr/bin/time ] || missing="$missing time(/usr/bin/time)"
    for c in $CLIENTS; do
        case $c in
            lt) $PY -c 'import libtorrent' 2>/dev/null || missing="$missing python3-libtorrent";;
            anacrolix) [ -x "$ANACROLIX" ] || missing="$missing anacrolix($ANACROLIX)";;
            aria2) command -v aria2c >/dev/null || missing="$missing aria2";;
            transmission) command -v transmission-cli >/dev/null || missing="$missing transmission-cli";;
            qbittorrent) command -v qbittorrent-nox >/dev/null || missing="$missing qbittorrent-nox";;
            effusion) ;;
            *) log "unknown client $c"; exit 2;;
        esac
    done
    # the reference seeder (leech race) and leecher (seed race) are libtorrent
    $PY -c 'import libtorrent' 2>/dev/null || missing="$missing python3-libtorrent"
    if [ -n "$missing" ]; then log "missing:$missing (see bench/README.md)"; exit 2; fi
}

build() {
    log "building effusion and the ceiling harness"
    (cd "$ROOT" && go build -o "$BIN/effusion" ./cmd/effusion && go build -o "$BIN/ceiling" ./bench/ceiling) \
        || { log "go build failed"; exit 1; }
    EFFUSION=$BIN/effusion
    COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
    (cd "$ROOT" && git diff --quiet HEAD -- . 2>/dev/null) || COMMIT="$COMMIT+dirty"
}

make_payload() {
    if [ -f "$PAYDIR/.done" ]; then return; fi
    rm -rf "$PAYDIR"; mkdir -p "$PAYDIR"
    log "creating a $SIZE_MIB MiB random payload in $PAYDIR"
    head -c "$SIZE_B" /dev/urandom > "$PAYDIR/data.bin"
    echo data.bin > "$PAYDIR/.manifest"
    touch "$PAYDIR/.done"
}

make_torrent() {  # OUT TRACKER_PORT
    local lg=0 v=$((PIECE_KIB * 1024)) out=$1 port=$2
    [ -f "$out" ] && return
    while [ $v -gt 1 ]; do v=$((v / 2)); lg=$((lg + 1)); done
    mktorrent -l "$lg" -a "http://127.0.0.1:$port/announce" -o "$out" "$PAYDIR/data.bin" >/dev/null 2>&1
}

infohash() { $PY -c 'import libtorrent as lt,sys; print(str(lt.torrent_info(sys.argv[1]).info_hashes().v1))' "$1"; }

# ------------------------------------------------------------ tracker
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# free_port BASE: BASE, or the next port above it that nothing listens on
# (another program on this machine may hold one of ours)
free_port() { local p=$1; while port_busy "$p" || port_busy "$((p + 5000))"; do p=$((p + 1)); done; echo "$p"; }

start_tracker() {  # RUNDIR PORT IH  (a fresh tracker per run: no stale peers)
    for _ in $(seq 1 100); do port_busy "$2" || break; sleep 0.1; done
    port_busy "$2" && { log "tracker port $2 busy"; return 1; }
    mkdir -p "$1/ot"; chmod 755 "$1/ot"
    # Debian's opentracker is built with a whitelist; the path is inside its -d chroot.
    echo "$3" > "$1/ot/whitelist"; chmod 644 "$1/ot/whitelist"
    timeout -k 5 $((RUN_TIMEOUT * 3)) opentracker -i 127.0.0.1 -p "$2" -P "$2" \
        -d "$1/ot" -w /whitelist > "$1/opentracker.log" 2>&1 &
    TRACKER_PID=$!; BG_PIDS+=($!)
    for _ in $(seq 1 50); do
        curl -s -m 1 "http://127.0.0.1:$2/stats" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "tracker did not come up on port $2"; return 1
}

scrape_complete() {  # PORT IH_URL -> seeds the tracker knows
    curl -s -m 2 "http://127.0.0.1:$1/scrape?info_hash=$2" \
        | grep -ao '8:completei[0-9]*e' | grep -o '[0-9]*' | head -1
}

# ------------------------------------------------------------ client command lines
tr_config() {  # DIR PORT
    mkdir -p "$1"
    cat > "$1/settings.json" <<EOF
{
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
  "utp-enabled": false, "port-forwarding-enabled": false,
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "peer-port": $2, "peer-port-random-on-start": false,
  "speed-limit-down-enabled": false, "speed-limit-up-enabled": false,
  "alt-speed-enabled": false, "encryption": 0, "blocklist-enabled": false,
  "rename-partial-files": false, "incomplete-dir-enabled": false,
  "peer-limit-global": 200, "peer-limit-per-torrent": 50,
  "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
  "start-added-torrents": true, "message-level": 1
}
EOF
}

ARIA2_COMMON=(--enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false
    --interface=127.0.0.1 --disable-ipv6=true --max-overall-download-limit=0 --max-overall-upload-limit=0
    --bt-max-peers=0 --bt-require-crypto=false --bt-min-crypto-level=plain --bt-save-metadata=false
    --console-log-level=warn --summary-interval=0)
ANACROLIX_COMMON=(--no-dht --no-pex --no-utp-peers --no-port-forward --no-ipv6 --no-webtorrent --no-progress)

# seed_cmd CLIENT SDIR PORT TORRENT  -> CMD (runs in $PAYDIR, seeds until SIGTERM)
seed_cmd() {
    local c=$1 sd=$2 port=$3 t=$4
    case $c in
        effusion) CMD=("$EFFUSION" seed "$t" --dir "$PAYDIR" --bind 127.0.0.1 --port "$port" --data-dir "$sd/effdata" "${EFF_NET[@]}");;
        lt) CMD=(env LT_UTP="$LT_UTP" LT_ENC="$LT_ENC" "$PY" "$BENCH/lt_client.py" seed "$t" "$PAYDIR" "$port" --max-seconds $((RUN_TIMEOUT * 2)) --ctl "$sd/ctl");;
        anacrolix) CMD=("$ANACROLIX" download --seed "${ANACROLIX_COMMON[@]}" --addr "127.0.0.1:$port" "$t");;
        aria2) CMD=(aria2c --seed-ratio=0.0 --bt-seed-unverified=true --check-integrity=false --listen-port="$port"
                    "${ARIA2_COMMON[@]}" "${ARIA2_ENC[@]}" --file-allocation=none --dir="$PAYDIR" "$t");;
        transmission) tr_config "$sd/cfg" "$port"
            CMD=(transmission-cli -g "$sd/cfg" -w "$PAYDIR" -p "$port" -D -U -M -B -et "$t");;
        qbittorrent) CMD=("$BENCH/qbt.sh" seed "$t" "$PAYDIR" "$sd/prof" "$port" $((port + 5000)) $((RUN_TIMEOUT * 2)));;
    esac
}

# leech_cmd CLIENT LDIR PORT TORRENT -> CMD (runs in LDIR/dl, exits 0 once complete and checked)
leech_cmd() {
    local c=$1 ld=$2 port=$3 t=$4 dl=$2/dl
    # completion hook: the moment the client declares the torrent complete
    printf '#!/bin/sh\ndate +%%s.%%N > "%s/done_at"\n' "$ld" > "$ld/done.sh"; chmod +x "$ld/done.sh"
    case $c in
        effusion) CMD=("$EFFUSION" download "$t" -o "$dl" --bind 127.0.0.1 --port "$port" --data-dir "$ld/effdata" "${EFF_NET[@]}");;
        lt) CMD=(env LT_UTP="$LT_UTP" LT_ENC="$LT_ENC" "$PY" "$BENCH/lt_client.py" leech "$t" "$dl" "$port" --max-seconds "$RUN_TIMEOUT" --done-file "$ld/done_at");;
        anacrolix) CMD=("$ANACROLIX" download "${ANACROLIX_COMMON[@]}" --addr "127.0.0.1:$port" "$t");;
        aria2) CMD=(aria2c --seed-time=0 --listen-port="$port" "${ARIA2_COMMON[@]}" "${ARIA2_ENC[@]}" --file-allocation=falloc
                    --on-bt-download-complete="$ld/done.sh" --dir="$dl" "$t");;
        transmission) tr_config "$ld/cfg" "$port"
            # transmission-cli never exits by itself: its finish script SIGINTs it
            # (a clean exit with the "stopped" announce; SIGTERM skips it).
            printf '#!/bin/sh\ndate +%%s.%%N > "%s/done_at"\nkill -INT $PPID\n' "$ld" > "$ld/finish.sh"
            chmod +x "$ld/finish.sh"
            CMD=(transmission-cli -g "$ld/cfg" -w "$dl" -p "$port" -D -U -M -B -et -f "$ld/finish.sh" "$t");;
        qbittorrent) CMD=("$BENCH/qbt.sh" leech "$t" "$dl" "$ld/prof" "$port" $((port + 5000)) "$RUN_TIMEOUT" "$ld/done_at");;
    esac
}

# ------------------------------------------------------------ one run
RUNSEQ=0
CSV_HEADER="stamp,commit,tag,scenario,seeder,leecher,client,size_mib,piece_kib,nleech,run,wall_s,t_done_s,leech_cpu_s,leech_maxrss_kb,seed_cpu_s,seed_maxrss_kb,mbps_per_leecher,mbps_aggregate,cpu_s_per_gib,rss_mib,verify,rc"

row() { echo "$STAMP,$COMMIT,$TAG,$*" >> "$RESULTS"; }

verify_dir() {  # DLDIR -> ok | FAIL:file
    local f
    while read -r f; do
        cmp -s "$PAYDIR/$f" "$1/$f" || { echo "FAIL:$f"; return; }
    done < "$PAYDIR/.manifest"
    echo ok
}

# run_case SCENARIO SEEDER LEECHER NLEECH ROUND SUBJECT
run_case() {
    local sc=$1 sk=$2 lk=$3 n=$4 r=$5 subj=$6
    # Effusion never asks the public DHT or multicasts here; the utp
    # scenario is uTP only on both sides (libtorrent: LT_UTP=1), every
    # other one TCP only.
    # The mse scenario requires RC4 both ways (Effusion --encryption require,
    # libtorrent LT_ENC=1, aria2 --bt-require-crypto at arc4).
    EFF_NET=(--no-dht --no-lsd --transport tcp); LT_UTP=0; LT_ENC=0; ARIA2_ENC=()
    if [ "$sc" = utp ]; then EFF_NET=(--no-dht --no-lsd --transport utp); LT_UTP=1; fi
    if [ "$sc" = mse ]; then
        EFF_NET+=(--encryption require); LT_ENC=1
        ARIA2_ENC=(--bt-require-crypto=true --bt-min-crypto-level=arc4)
    fi
    RUNSEQ=$((RUNSEQ + 1))
    local slot=$((RUNSEQ % 400)) rd=$SESSION/$sc-$subj-r$r
    local tport=$TRACKER_PORT sport lbase=$((21000 + slot * 10))
    sport=$(free_port $((31000 + slot)))
    if [ "$lk" = transmission ] && [ "$sk" != lt ]; then
        # Transmission 3.00 drops 127/8 peers learned from a tracker; only the
        # libtorrent seeder can dial it (see lt_client.py --ctl).
        log "$sc $subj r$r: skipped (transmission leechers need a seeder that dials them)"
        row "$sc,$sk,$lk,$subj,$SIZE_MIB,$PIECE_KIB,$n,$r,,,,,,,,,,,skip,"
        return
    fi
    mkdir -p "$rd"
    local t=$TORRENT ih=$IH ihurl=$IH_URL
    sync
    start_tracker "$rd" "$tport" "$ih" || { row "$sc,$sk,$lk,$subj,$SIZE_MIB,$PIECE_KIB,$n,$r,,,,,,,,,,,tracker-fail,"; return; }
    # seeder
    local sd=$rd/seeder; mkdir -p "$sd"
    seed_cmd "$sk" "$sd" "$sport" "$t"
    echo "${CMD[*]}" > "$sd/cmd.txt"
    ( cd "$PAYDIR" && exec /usr/bin/time -v -o "$sd/time.txt" timeout -k 5 $((RUN_TIMEOUT * 2)) "${CMD[@]}" ) \
        > "$sd/out.log" 2>&1 < /dev/null &
    local stime=$! stp="" ok=0
    BG_PIDS+=($stime)
    for _ in $(seq 1 1200); do     # up to 120 s: the seeder checks its data first
        [ -z "$stp" ] && stp=$(pgrep -P $stime | head -1)
        local c; c=$(scrape_complete "$tport" "$ihurl")
        if [ "${c:-0}" -ge 1 ]; then ok=1; break; fi
        kill -0 $stime 2>/dev/null || break
        sleep 0.1
    done
    if [ $ok = 0 ]; then
        log "$sc $subj r$r: seeder $sk never announced itself complete"; tail -3 "$sd/out.log" >&2
        kill -TERM "$stp" $TRACKER_PID 2>/dev/null; wait $stime $TRACKER_PID 2>/dev/null
        row "$sc,$sk,$lk,$subj,$SIZE_MIB,$PIECE_KIB,$n,$r,,,,,,,,,,,seeder-fail,"
        return
    fi
    settle
    local s0; s0=$(tree_cpu "$stp")
    # leechers
    local i pids=() ports=() t0 t1
    t0=$(now)
    for i in $(seq 1 "$n"); do
        local ld=$rd/l$i port; port=$(free_port $((lbase + i))); mkdir -p "$ld/dl"
        leech_cmd "$lk" "$ld" "$port" "$t"
        echo "${CMD[*]}" > "$ld/cmd.txt"
        ( cd "$ld/dl" && exec /usr/bin/time -v -o "$ld/time.txt" timeout -k 5 "$RUN_TIMEOUT" "${CMD[@]}" ) \
            > "$ld/out.log" 2>&1 < /dev/null &
        pids+=($!); ports+=("$port")
    done
    BG_PIDS+=("${pids[@]}")
    if [ "$lk" = transmission ]; then
        ( for d in 0.3 0.5 1 2 4; do sleep $d
            for p in "${ports[@]}"; do touch "$sd/ctl/connect-127.0.0.1-$p"; done; done ) &
        BG_PIDS+=($!)
    fi
    local rcs="" p
    for p in "${pids[@]}"; do wait "$p"; rcs="$rcs$?;"; done
    t1=$(now)
    local s1; s1=$(tree_cpu "$stp")
    kill -TERM "$stp" 2>/dev/null
    wait $stime 2>/dev/null
    kill -TERM $TRACKER_PID 2>/dev/null; wait $TRACKER_PID 2>/dev/null
    # measurements
    local wall; wall=$(fdiff "$t0" "$t1")
    local lcpu=0 lrss=0 ver="" v u s m
    for i in $(seq 1 "$n"); do
        v=$(verify_dir "$rd/l$i/dl"); [ "$v" = ok ] || ver="${ver}l$i:$v;"
        u=$(timefield "$rd/l$i/time.txt" "User time"); s=$(timefield "$rd/l$i/time.txt" "System time")
        m=$(timefield "$rd/l$i/time.txt" "Maximum resident set size")
        lcpu=$(awk -v a="$lcpu" -v b="${u:-0}" -v c="${s:-0}" 'BEGIN{printf "%.2f", a+b+c}')
        [ "${m:-0}" -gt "$lrss" ] && lrss=${m:-0}
    done
    [ -z "$ver" ] && ver=ok
    local tdone=NA last="" d
    for i in $(seq 1 "$n"); do
        if [ -s "$rd/l$i/done_at" ]; then d=$(cat "$rd/l$i/done_at")
            if [ -z "$last" ] || awk -v a="$d" -v b="$last" 'BEGIN{exit !(a>b)}'; then last=$d; fi
        else last=""; break; fi
    done
    [ -n "$last" ] && tdone=$(fdiff "$t0" "$last")
    local scpu srss; scpu=$(fdiff "$s0" "$s1")
    srss=$(timefield "$sd/time.txt" "Maximum resident set size")
    local gib; gib=$(awk -v b="$SIZE_B" -v n="$n" 'BEGIN{print b*n/1073741824}')
    local per agg; per=$(awk -v b="$SIZE_B" -v w="$wall" 'BEGIN{printf "%.1f", b/w/1e6}')
    agg=$(awk -v b="$SIZE_B" -v n="$n" -v w="$wall" 'BEGIN{printf "%.1f", b*n/w/1e6}')
    local cpg rss
    if [ "$sc" = seed ]; then
        cpg=$(awk -v c="$scpu" -v g="$gib" 'BEGIN{printf "%.2f", c/g}'); rss=$(awk -v k="${srss:-0}" 'BEGIN{printf "%.1f", k/1024}')
    else
        cpg=$(awk -v c="$lcpu" -v g="$gib" 'BEGIN{printf "%.2f", c/g}'); rss=$(awk -v k="$lrss" 'BEGIN{printf "%.1f", k/1024}')
    fi
    row "$sc,$sk,$lk,$subj,$SIZE_MIB,$PIECE_KIB,$n,$r,$wall,$tdone,$lcpu,$lrss,$scpu,${srss:-0},$per,$agg,$cpg,$rss,$ver,${rcs%;}"
    log "$sc $subj r$r: wall=${wall}s MB/s=$per agg=$agg cpu/GiB=$cpg rss=${rss}MiB seederCPU=${scpu}s verify=$ver rc=${rcs%;}"
    [ "$KEEP" = 1 ] || rm -rf "$rd"/l*/dl "$rd"/l*/prof "$sd/prof"
}

# settle: the same state of the machine before every measured run. On a VM
# the memory a run writes its copy into costs more when the pages were freed
# seconds ago (the host has taken them back) than just before: without a
# pause, a run that starts right after the previous one's copy was deleted
# (a fast seeder start, the ceiling) gets cheaper writes than one behind a
# slow seeder's check. Dirty data is written back first (sync), then every
# run waits the same SETTLE seconds.
settle() { sync; sleep "$SETTLE"; }

run_ceiling() {  # ROUND
    local r=$1 rd=$SESSION/ceiling-r$1 out
    mkdir -p "$rd"; settle
    out=$(timeout -k 5 "$RUN_TIMEOUT" "$BIN/ceiling" -file "$PAYDIR/data.bin" -piece $((PIECE_KIB * 1024)) \
        -out "$rd/copy.bin" 2>"$rd/err.log")
    echo "$out" > "$rd/out.txt"
    # ceiling prints: wall_s=.. mbps=.. cpu_s=.. maxrss_kb=.. verify=..
    local wall mbps cpu rss ver
    wall=$(echo "$out" | grep -o 'wall_s=[0-9.]*' | cut -d= -f2)
    mbps=$(echo "$out" | grep -o 'mbps=[0-9.]*' | cut -d= -f2)
    cpu=$(echo "$out" | grep -o 'cpu_s=[0-9.]*' | cut -d= -f2)
    rss=$(echo "$out" | grep -o 'maxrss_kb=[0-9]*' | cut -d= -f2)
    ver=$(echo "$out" | grep -o 'verify=[a-zA-Z:0-9]*' | cut -d= -f2)
    local cpg; cpg=$(awk -v c="${cpu:-0}" -v b="$SIZE_B" 'BEGIN{printf "%.2f", c/(b/1073741824)}')
    row "ceiling,,,ceiling,$SIZE_MIB,$PIECE_KIB,1,$r,${wall:-},NA,${cpu:-},${rss:-},,,${mbps:-},${mbps:-},$cpg,$(awk -v k="${rss:-0}" 'BEGIN{printf "%.1f", k/1024}'),${ver:-FAIL},0"
    log "ceiling r$r: $out"
    rm -f "$rd/copy.bin"
}

# ------------------------------------------------------------ main
check_tools
build
make_payload
# One torrent for every run: each run starts a fresh tracker on the same port.
TORRENT=$WORK/payload-${SIZE_MIB}M-${PIECE_KIB}k-t$TRACKER_PORT.torrent
make_torrent "$TORRENT" "$TRACKER_PORT"
IH=$(infohash "$TORRENT")
IH_URL=$(echo "$IH" | sed 's/../%&/g')
[ "$APPEND" = 1 ] && [ -f "$RESULTS" ] || echo "$CSV_HEADER" > "$RESULTS"
log "session $SESSION: size=${SIZE_MIB}MiB piece=${PIECE_KIB}KiB runs=$RUNS clients='$CLIENTS' scenarios='$SCENARIOS' results=$RESULTS"
read -r -a CL <<< "$CLIENTS"
for r in $(seq 1 "$RUNS"); do
    # rotate the client order each round
    order=()
    for k in $(seq 0 $((${#CL[@]} - 1))); do order+=("${CL[$(( (k + r - 1) % ${#CL[@]} ))]}"); done
    for sc in $SCENARIOS; do
        case $sc in
            ceiling) run_ceiling "$r"; continue;;
        esac
        for c in "${order[@]}"; do
            case $sc in
                leech) run_case leech lt "$c" 1 "$r" "$c";;
                seed)  run_case seed "$c" lt 1 "$r" "$c";;
                pairs) run_case pairs "$c" "$c" 1 "$r" "$c";;
                swarm) run_case swarm "$c" "$c" "$NSWARM" "$r" "$c";;
                utp)   case $c in effusion|lt) run_case utp "$c" "$c" 1 "$r" "$c";; esac;;
                mse)   case $c in effusion|lt|aria2) run_case mse "$c" "$c" 1 "$r" "$c";; esac;;
                *) log "unknown scenario $sc"; exit 2;;
            esac
        done
    done
done
log "runs done; writing the summary"
$PY "$BENCH/report.py" -o "$OUTDIR" "$RESULTS" || log "report.py failed"
log "results: $RESULTS, $OUTDIR/summary.md, $OUTDIR/chart.png"
