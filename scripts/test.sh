#!/usr/bin/env bash
# The project's whole test suite, as the README and CI run it.
# Installs what the tests need (Debian packages, Go modules), then checks
# formatting, vets, lints and runs every test under the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers and tools the interoperability tests run against.
# The daemon's tests also drive it with python3-transmissionrpc and its web UI
# with chromium; the stream command's test plays a WebM made with ffmpeg; bench/daemon compares it with transmission-daemon.
pkgs=(aria2 opentracker mktorrent transmission-cli python3-libtorrent iproute2 qbittorrent-nox
	transmission-daemon python3-transmissionrpc chromium ffmpeg)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "== installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# JavaScript peers, pinned in internal/testpeer/js/package.json (node_modules is git-ignored).
echo "== npm install (internal/testpeer/js)"
npm install --prefix internal/testpeer/js --no-audit --no-fund --no-save --loglevel=error >/dev/null

echo "== go mod download"
go mod download

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# -artifacts: the web UI test's screenshots land in test-artifacts/_artifacts/.
echo "== go test -race"
mkdir -p test-artifacts
go test -race -count=1 -timeout 12m -artifacts -outputdir "$PWD/test-artifacts" ./...

echo "== statem under shuffle, repeatedly"
go test -race -count=20 -shuffle=on -timeout 5m ./statem/

echo "== allocation counts (without -race: the race detector allocates, and core's test skips under it)"
go test -count=1 -run 'AllocatesNothing|Allocs' ./core/ ./peerwire/ ./sha1x/ ./storage/ ./mse/ ./utp/ ./client/

# Every fuzz target in the module, briefly: its committed seeds, then a few
# seconds of new inputs (FUZZTIME, default 2s). -fuzzminimizetime stays
# small so that minimising one new input cannot eat a target's run. A
# crasher is written to the package's testdata/fuzz/ to be committed with
# its fix.
fuzztime=${FUZZTIME:-2s}
echo "== fuzz: every target for $fuzztime"
fuzz_start=$SECONDS
while read -r pkg targets; do
	for t in $targets; do
		ok=0
		for try in 1 2; do
			if out=$(go test -run '^$' -fuzz "^${t}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s -parallel 2 "$pkg" 2>&1); then
				ok=1; break
			fi
			# Go's fuzzing coordinator sometimes gives up on a busy worker
			# at the end of -fuzztime ("context deadline exceeded", no
			# failing input): that is retried once; a failing input never is.
			if [[ $out == *"Failing input written"* || $out != *"context deadline exceeded"* ]]; then
				break
			fi
			echo "   $t ($pkg): the fuzzing engine timed out a worker; once more"
		done
		if [ $ok = 0 ]; then
			echo "$out"
			echo "fuzz target $t in $pkg failed"
			exit 1
		fi
		echo "   $t ($pkg)"
	done
done < <(go test -list '^Fuzz' ./... | awk '/^Fuzz/ { names = names " " $1 } /^ok/ { if (names != "") print $2 names; names = "" }')
echo "   fuzzing took $((SECONDS - fuzz_start))s"
