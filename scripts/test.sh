#!/usr/bin/env bash
# The project's whole test suite, as the README and CI run it.
# Installs what the tests need (Debian packages, Go modules), then checks
# formatting, vets, lints and runs every test under the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers and tools the interoperability tests run against.
pkgs=(aria2 opentracker mktorrent transmission-cli python3-libtorrent iproute2)
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

echo "== go test -race"
go test -race -count=1 -timeout 12m ./...

echo "== statem under shuffle, repeatedly"
go test -race -count=20 -shuffle=on -timeout 5m ./statem/

echo "== allocation counts (without -race: the race detector allocates, and core's test skips under it)"
go test -count=1 -run 'AllocatesNothing|Allocs' ./core/ ./peerwire/ ./internal/sha1x/ ./storage/ ./utp/
