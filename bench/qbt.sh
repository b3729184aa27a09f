#!/bin/bash
# qbt.sh leech|seed TORRENT DIR PROFILEDIR PORT WEBUIPORT MAXSEC [DONE_FILE]
# Runs one qbittorrent-nox (loopback only; no DHT/LSD/PeX/UPnP; no limits) with
# TORRENT saved to DIR, driven through its WebUI API on 127.0.0.1:WEBUIPORT.
#   leech: polls until the torrent is complete (all pieces checked), writes the
#          time to DONE_FILE, shuts qBittorrent down, exits 0 (1 on timeout).
#   seed:  DIR already holds the data; qBittorrent checks it and seeds until
#          this script gets SIGTERM/SIGINT or MAXSEC passes.
set -u
MODE=$1 T=$2 DL=$3 P=$4 PORT=$5 WP=$6 MAX=$7 DONE=${8:-}
mkdir -p "$P/qBittorrent/config" "$DL"
cat > "$P/qBittorrent/config/qBittorrent.conf" <<CONF
[LegalNotice]
Accepted=true

[BitTorrent]
Session\\DHTEnabled=false
Session\\LSDEnabled=false
Session\\PeXEnabled=false
Session\\Port=$PORT
Session\\Interface=lo
Session\\InterfaceName=lo
Session\\InterfaceAddress=127.0.0.1
Session\\GlobalDLSpeedLimit=0
Session\\GlobalUPSpeedLimit=0
Session\\AlternativeGlobalDLSpeedLimit=0
Session\\AlternativeGlobalUPSpeedLimit=0
Session\\BTProtocol=TCP
Session\\Encryption=0
Session\\AnonymousModeEnabled=false
Session\\QueueingSystemEnabled=false
Session\\MultiConnectionsPerIp=true
Session\\DefaultSavePath=$DL
Session\\TempPathEnabled=false
Session\\AddExtensionToIncompleteFiles=false
Session\\Preallocation=false
Session\\GlobalMaxRatio=-1
Session\\GlobalMaxSeedingMinutes=-1

[Network]
PortForwardingEnabled=false

[Preferences]
Connection\\UPnP=false
Connection\\PortRangeMin=$PORT
Downloads\\SavePath=$DL
General\\Locale=en
WebUI\\Enabled=true
WebUI\\Address=127.0.0.1
WebUI\\Port=$WP
WebUI\\LocalHostAuth=false
WebUI\\CSRFProtection=false
WebUI\\HostHeaderValidation=false
WebUI\\UseUPnP=false
CONF
qbittorrent-nox --profile="$P" --webui-port="$WP" --torrenting-port="$PORT" \
    --save-path="$DL" --skip-dialog=true --add-paused=false "$T" > "$P/qbt.log" 2>&1 &
QP=$!
stop=0
trap 'stop=1' TERM INT
rc=1
end=$((SECONDS + MAX))
while [ $SECONDS -lt $end ] && [ $stop = 0 ]; do
    sleep 0.1
    kill -0 $QP 2>/dev/null || break
    [ "$MODE" = seed ] && continue
    info=$(curl -s -m 2 "http://127.0.0.1:$WP/api/v2/torrents/info") || continue
    if echo "$info" | grep -Eq '"state":"(uploading|stalledUP|queuedUP|forcedUP|pausedUP|stoppedUP)"'; then
        [ -n "$DONE" ] && date +%s.%N > "$DONE"
        rc=0
        break
    fi
done
[ "$MODE" = seed ] && [ $stop = 1 ] && rc=0
curl -s -m 2 -X POST "http://127.0.0.1:$WP/api/v2/app/shutdown" >/dev/null 2>&1
for _ in $(seq 1 100); do kill -0 $QP 2>/dev/null || break; sleep 0.1; done
kill -0 $QP 2>/dev/null && { kill -TERM $QP; sleep 1; kill -KILL $QP 2>/dev/null; }
wait $QP 2>/dev/null
exit $rc
