#!/usr/bin/env bash
# scripts/build.sh [OUT] — builds poolnsd into OUT (default bin/poolnsd).
# Before a build that has much to compile (a fresh clone, an empty Go build
# cache: about 300 packages, a minute or more on 2 cores, in silence) it
# says so, so that a first `make run` does not look hung. GO picks the go
# command (default go).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/poolnsd}
GO=${GO:-go}
# Packages whose compiled form is not in the build cache (go list reads
# the cache; it compiles nothing). A module download, if any, prints its
# own "go: downloading" lines.
stale=$("$GO" list -deps -f '{{if .Stale}}x{{end}}' ./cmd/poolnsd | grep -c x || true)
if [ "${stale:-0}" -gt 30 ]; then
  echo "building $out: $stale packages to compile (Go's build cache does not have them yet);" \
    "a first build takes a minute or more, later ones a few seconds" >&2
fi
exec "$GO" build -o "$out" ./cmd/poolnsd
