#!/usr/bin/env bash
# bench/peers.sh [SERVER ...] — poolnsd as one more column of the peer
# benchmark harness in bench/peers (knot, nsd, PowerDNS, …) in the same run, so
# that the figures compare as ratios. Default peers: poolnsd knot nsd
# pdns-lua-shared. The peers must be installed once: bench/peers/install.sh
# (as root; it starts none of their services).
# Knobs are the harness's own (DURATION, REPS, CONCURRENCY, LAT_RATES, …; see
# bench/peers/README.md); OUT is the results folder (default bench/out/peers).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEERS=$ROOT/bench/peers
go build -o bin/poolnsd ./cmd/poolnsd
go build -o bin/udpprobe ./bench/udpprobe
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/zones"
cp bench/peers/zones/pool.test.poolnsd.zone "$WORK/zones/pool.test.zone"
# The zone has no probe= keys, so poolnsd serves all 10 members without
# probing them: compare with the static peers (POOLNSD_HEALTH=no).
cat > "$WORK/poolnsd-bench.yaml" <<YAML
dns:
  listen: ["@ADDR@:@PORT@"]
  udp_sockets: @THREADS@
http:
  listen: ""                       # no HTTP API in a DNS benchmark
zones: $WORK/zones
data: @DIR@/data
YAML
OUT=${OUT:-$ROOT/bench/out/peers}
mkdir -p "$OUT"
PROBE_BIN=${PROBE_BIN-$ROOT/bin/udpprobe} POOLNSD_BIN=$ROOT/bin/poolnsd POOLNSD_CONFIG=$WORK/poolnsd-bench.yaml POOLNSD_HEALTH=no \
  "$PEERS/run.sh" -o "$OUT" "${@:-poolnsd knot nsd pdns-lua-shared}"
