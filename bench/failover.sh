#!/usr/bin/env bash
# bench/failover.sh — failover times and the CPU of probing, with a real
# poolnsd process and real HTTP backends on loopback (see bench/failover/main.go).
# Knobs: TRIALS (20 per scenario), CPU_WINDOW (20s), ONLY (a scenario name part:
# 100ms, 1s/, freeze, reports, cpu), PIN (a CPU to also pin poolnsd to for the CPU
# runs, with GOMAXPROCS=1), REGISTRARS (cluster sizes of the failover runs, "1,3":
# one poolnsd, then three peering that confirm health changes), OUT (bench/out).
# Ports: DNS 5400, HTTP API 8400 (on 127.0.0.1-3), ENRP 9441.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${TRIALS:-20} CPU_WINDOW=${CPU_WINDOW:-20s} ONLY=${ONLY:-} PIN=${PIN:--1} REGISTRARS=${REGISTRARS:-1,3}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"
go build -o bin/poolnsd ./cmd/poolnsd # always: a binary left from an older tree would be measured
go build -o bin/failover ./bench/failover
if [ "$PIN" != "-1" ]; then
  command -v taskset >/dev/null || { echo "bench: taskset is missing (apt-get install util-linux)" >&2; exit 2; }
fi
echo "# uptime: $(uptime)" | tee "$OUT/failover.md"
bin/failover -poolnsd bin/poolnsd -trials "$TRIALS" -cpu-window "$CPU_WINDOW" -only "$ONLY" -cpu-pin "$PIN" -registrars "$REGISTRARS" \
  -logs "$OUT/failover-logs" | tee -a "$OUT/failover.md"
echo "# uptime: $(uptime)" | tee -a "$OUT/failover.md"
