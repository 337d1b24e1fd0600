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
for tool in dnsperf taskset dig; do
  command -v $tool >/dev/null || { echo "bench: $tool is missing (apt-get install dnsperf bind9-dnsutils util-linux)" >&2; exit 2; }
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
PID= FLOOD=
cleanup() {
  [ -n "$FLOOD" ] && kill "$FLOOD" 2>/dev/null && wait "$FLOOD" 2>/dev/null
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
  go build -o "$WORK/poolnsd" ./cmd/poolnsd
  BINS=("$WORK/poolnsd")
fi

mkdir -p "$WORK/zones"
{
  echo '$ORIGIN bench.test.'
  echo '$TTL 300'
  echo '@ SOA ns1 hostmaster 1 3600 600 86400 5'
  echo '@ NS ns1'
  echo 'ns1 A 127.0.0.1'
  echo '$POOL web policy=rr ttl=5 answers=3'
  for e in 1 2 3 4; do echo "web PE 127.3.0.$e:8080"; done
  echo "\$POOL big policy=rand ttl=5 answers=3"
  for e in $(seq 0 $((BIG - 1))); do echo "big PE 127.2.$((e / 250)).$((e % 250 + 1)):8080"; done
} > "$WORK/zones/bench.zone"
echo "big.bench.test. A" > "$WORK/cold.txt"
echo "web.bench.test. A" > "$WORK/warm.txt"

# serve BIN: starts poolnsd (data in a directory of its own, with a new
# key), waits until it answers.
serve() {
  rm -rf "$WORK/data"
  mkdir -p "$WORK/data"
  cat > "$WORK/poolnsd.yaml" <<YAML
dns:
  listen: ["127.0.0.1:$PORT"]
http:
  listen: "127.0.0.1:$HTTP_PORT"
zones: $WORK/zones
data: $WORK/data
YAML
  "$1" dnssec keygen --config "$WORK/poolnsd.yaml" --algorithm "$ALG" bench.test. > /dev/null
  GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$1" serve --config "$WORK/poolnsd.yaml" > "$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 +short bench.test. SOA 2>/dev/null | grep -q hostmaster && break
    kill -0 "$PID" 2>/dev/null || { echo "bench: poolnsd exited:" >&2; cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.2
  done
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
        FLOOD=$!
        sleep 1 # the flood under way
      fi
      warm "$WORK/lat.txt"
      if [ "$flood" = 1 ]; then
        wait "$FLOOD" || true
        FLOOD=
        cold_qps=$(awk '/Queries per second/ {printf "%.0f", $4}' "$WORK/cold.out")
      fi
      echo "$i,$rep,$flood,$(wc -l < "$WORK/lat.txt"),$(pct "$WORK/lat.txt" 0.5),$(pct "$WORK/lat.txt" 0.9),$(pct "$WORK/lat.txt" 0.99),$(tail -1 "$WORK/lat.txt"),$cold_qps" >> "$OUT/runs.csv"
    done
    stop
  done
done
echo "binaries: ${BINS[*]} (bin = index); load: $(cut -d' ' -f1-3 /proc/loadavg)"
column -s, -t < "$OUT/runs.csv"
