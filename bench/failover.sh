#!/usr/bin/env bash
# bench/failover.sh — failover times and the CPU of probing, with a real
# poolnsd process and real HTTP backends on loopback (see bench/failover/main.go).
# Knobs: TRIALS (20 per scenario), CPU_WINDOW (20s), ONLY (a scenario name part:
# 100ms, 1s/, freeze, reports, cpu), PIN (a CPU to also pin poolnsd to for the CPU
# runs, with GOMAXPROCS=1), OUT (bench/out). Ports: DNS 5400, HTTP API 8400.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${TRIALS:-20} CPU_WINDOW=${CPU_WINDOW:-20s} ONLY=${ONLY:-} PIN=${PIN:--1}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
[ -x bin/poolnsd ] || go build -o bin/poolnsd ./cmd/poolnsd
go build -o bin/failover ./bench/failover
if [ "$PIN" != "-1" ]; then
  command -v taskset >/dev/null || { echo "bench: taskset is missing (apt-get install util-linux)" >&2; exit 2; }
fi
echo "# uptime: $(uptime)" | tee "$OUT/failover.md"
bin/failover -poolnsd bin/poolnsd -trials "$TRIALS" -cpu-window "$CPU_WINDOW" -only "$ONLY" -cpu-pin "$PIN" \
  -logs "$OUT/failover-logs" | tee -a "$OUT/failover.md"
echo "# uptime: $(uptime)" | tee -a "$OUT/failover.md"
