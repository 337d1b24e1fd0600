#!/usr/bin/env bash
# bench/coldsign.sh — does a flood of answers that need new signatures
# hold up the answers that do not (issue 14)? A signed zone (bench.test.,
# key of ALG made by "poolnsd dnssec keygen") with "big", a rand pool of
# BIG elements (3 per A answer: nearly every answer a new RRset, signed as
# it is sent) and "web", an rr pool of 4 (4 RRsets, signed once). poolnsd
# runs on SERVER_CPU with GOMAXPROCS=1 (one UDP socket); on LOAD_CPU, a
# dnsperf floods big.bench.test. A with DO (COLD=1; -c 20 -q 200) while
# another asks web.bench.test. A with DO at a fixed rate (WARM_QPS) and
# reports each answer's latency (-v): the warm answers' percentiles with
# and without the flood, for each binary given, interleaved.
#
# Usage: bench/coldsign.sh BIN [BIN...] (poolnsd binaries; default: one
# built from the tree). Knobs: ALG (13), BIG (1000), DURATION (5 s),
# REPS (3), WARM_QPS (1000), PORT (5643), HTTP_PORT (PORT+1), OUT
# (bench/out/coldsign). All traffic goes to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ALG=${ALG:-13} BIG=${BIG:-1000} DURATION=${DURATION:-5} REPS=${REPS:-3} WARM_QPS=${WARM_QPS:-1000}
PORT=${PORT:-5643} HTTP_PORT=${HTTP_PORT:-$((${PORT:-5643} + 1))}
SERVER_CPU=${SERVER_CPU:-1} LOAD_CPU=${LOAD_CPU:-0} OUT=${OUT:-bench/out/coldsign}
. bench/lib.sh
bench_need dnsperf taskset dig
bench_start
BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
  go build -o "$WORK/poolnsd" ./cmd/poolnsd
  BINS=("$WORK/poolnsd")
fi

mkdir -p "$WORK/zones"
{
  bench_zone_head
  echo '$POOL web policy=rr ttl=5 answers=3'
  for e in 1 2 3 4; do echo "web PE 127.3.0.$e:8080"; done
  bench_big "$BIG"
} > "$WORK/zones/bench.zone"
echo "big.bench.test. A" > "$WORK/cold.txt"
echo "web.bench.test. A" > "$WORK/warm.txt"

# serve BIN: starts poolnsd (data in a directory of its own, with a new
# key), waits until it answers.
serve() {
  rm -rf "$WORK/data"
  mkdir -p "$WORK/data"
  bench_config "127.0.0.1:$HTTP_PORT"
  "$1" dnssec keygen --config "$WORK/poolnsd.yaml" --algorithm "$ALG" bench.test. > /dev/null
  GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$1" serve --config "$WORK/poolnsd.yaml" > "$WORK/server.log" 2>&1 &
  PID=$!
  bench_wait "$WORK/server.log"
  [ "$(dig @127.0.0.1 -p "$PORT" +dnssec +short web.bench.test. A | grep -c "^A $ALG ")" = 1 ] || { echo "bench: no RRSIG with DO" >&2; exit 1; }
  for _ in $(seq 8); do dig @127.0.0.1 -p "$PORT" +dnssec web.bench.test. A > /dev/null; done # web's 4 RRsets signed
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }

# warm NAME: the warm dnsperf's latencies in µs, one a line, into NAME.
warm() {
  taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -D -d "$WORK/warm.txt" -l "$DURATION" -Q "$WARM_QPS" -c 1 -q 10 -v \
    > "$WORK/warm.out" 2>&1 || true
  awk '$1 == ">" && $2 == "NOERROR" {printf "%.0f\n", $NF * 1e6}' "$WORK/warm.out" | sort -n > "$1"
}
pct() { awk -v p="$2" '{v[NR] = $1} END {if (NR == 0) {print "-"; exit} i = int(p * (NR - 1)) + 1; print v[i]}' "$1"; }

echo "bin,rep,flood,warm_answers,p50_us,p90_us,p99_us,max_us,cold_qps" > "$OUT/runs.csv"
for rep in $(seq "$REPS"); do
  for i in "${!BINS[@]}"; do
    bin=${BINS[$i]}
    serve "$bin"
    for flood in 0 1; do
      cold_qps=0
      if [ "$flood" = 1 ]; then
        taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -D -d "$WORK/cold.txt" -l "$((DURATION + 2))" -c 20 -q 200 \
          > "$WORK/cold.out" 2>&1 &
        BENCH_PIDS=$!
        sleep 1 # the flood under way
      fi
      warm "$WORK/lat.txt"
      if [ "$flood" = 1 ]; then
        wait "$BENCH_PIDS" || true
        BENCH_PIDS=
        cold_qps=$(awk '/Queries per second/ {printf "%.0f", $4}' "$WORK/cold.out")
      fi
      echo "$i,$rep,$flood,$(wc -l < "$WORK/lat.txt"),$(pct "$WORK/lat.txt" 0.5),$(pct "$WORK/lat.txt" 0.9),$(pct "$WORK/lat.txt" 0.99),$(tail -1 "$WORK/lat.txt"),$cold_qps" >> "$OUT/runs.csv"
    done
    stop
  done
done
echo "binaries: ${BINS[*]} (bin = index); load: $(cut -d' ' -f1-3 /proc/loadavg)"
column -s, -t < "$OUT/runs.csv"
