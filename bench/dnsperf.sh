#!/usr/bin/env bash
# bench/dnsperf.sh — load poolnsd with dnsperf on loopback and report queries/s,
# latency percentiles and the server's CPU time per answered query.
#
# Zone: 100 pools x 10 elements (policies rr, wrr, rand, wrand, prio, lu, lud,
# plu, rlu, hash in turn), A and SRV query mixes over all 100 pools.
# poolnsd is pinned to one core (SERVER_CPU, default 1, GOMAXPROCS=1) and
# dnsperf to the other (LOAD_CPU, default 0), as in bench/peers.
# Every run is bounded (dnsperf -l); all traffic goes to 127.0.0.1.
#
# Knobs: DURATION (10 s per throughput run), REPS (3), RATE (20000 q/s for the
# open-loop percentile run), PORT (5399), OUT (bench/out), BIN (built if unset).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10} REPS=${REPS:-3} RATE=${RATE:-20000} LAT_DURATION=${LAT_DURATION:-5}
PORT=${PORT:-5399} SERVER_CPU=${SERVER_CPU:-1} LOAD_CPU=${LOAD_CPU:-0}
OUT=${OUT:-bench/out}
. bench/lib.sh
bench_need dnsperf taskset dig
bench_start
bench_build

# The zone and the query files.
mkdir -p "$WORK/zones" "$WORK/data"
{
  bench_zone_head
  bench_pools
} > "$WORK/zones/bench.zone"
bench_config ""

GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN" serve --config "$WORK/poolnsd.yaml" > "$OUT/server.log" 2>&1 &
PID=$!
bench_wait "$OUT/server.log"
# Check the answers before measuring.
[ "$(dig @127.0.0.1 -p "$PORT" +short p0.bench.test. A | wc -l)" = 3 ] || { echo "bench: wrong A answer" >&2; exit 1; }
[ "$(dig @127.0.0.1 -p "$PORT" +short _http._tcp.p1.bench.test. SRV | wc -l)" = 10 ] || { echo "bench: wrong SRV answer" >&2; exit 1; }

TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

echo "qtype,rep,qps,avg_ms,cpu_us_per_q,completed,lost" > "$OUT/runs.csv"
echo "qtype,rate,rep,answered,lost,p50_ms,p90_ms,p99_ms,p999_ms,max_ms" > "$OUT/latency.csv"
for rep in $(seq "$REPS"); do
  for q in a srv; do
    t0=$(cpu_ticks)
    taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -e -d "$WORK/$q.txt" -l "$DURATION" -c 20 -q 200 -t 2 \
      > "$OUT/dnsperf.$q.r$rep.txt" 2>&1
    t1=$(cpu_ticks)
    awk -v q="$q" -v rep="$rep" -v ticks="$((t1 - t0))" -v tck="$TCK" '
      /Queries completed:/ {c=$3} /Queries lost:/ {l=$3} /Queries per second:/ {qps=$4} /Average Latency/ {lat=$4}
      END { printf "%s,%d,%.0f,%.3f,%.2f,%d,%d\n", q, rep, qps, lat*1000, (ticks/tck*1e6)/c, c, l }' \
      "$OUT/dnsperf.$q.r$rep.txt" | tee -a "$OUT/runs.csv"
    # Open loop at a fixed rate: per-query latencies (-v) for percentiles.
    taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -e -d "$WORK/$q.txt" -l "$LAT_DURATION" -c 16 -q 1000 -Q "$RATE" -t 2 -v \
      > "$WORK/lat.txt" 2>&1 || true
    lost=$(awk '/Queries lost:/ {print $3}' "$WORK/lat.txt")
    awk '$1==">" && $2 ~ /^[A-Z]+$/ {print $NF*1000}' "$WORK/lat.txt" | sort -g |
      awk -v q="$q" -v rate="$RATE" -v rep="$rep" -v lost="$lost" '
        { v[NR]=$1 }
        function pct(p,  i) { i=int(p*NR); if (i<1) i=1; if (i>NR) i=NR; return v[i] }
        END { printf "%s,%s,%d,%d,%s,%.3f,%.3f,%.3f,%.3f,%.3f\n", q, rate, rep, NR, lost, pct(0.5), pct(0.9), pct(0.99), pct(0.999), v[NR] }' |
      tee -a "$OUT/latency.csv"
  done
done

# Medians over the repetitions.
{
  echo "## poolnsd under dnsperf ($(date -u +%F), ${DURATION}s runs, median of $REPS; server on CPU $SERVER_CPU, dnsperf on CPU $LOAD_CPU)"
  echo
  echo "| qtype | queries/s (-c20 -q200) | avg ms | CPU µs/query | p50 / p90 / p99 / p99.9 ms @ $RATE q/s | lost @ $RATE |"
  echo "|---|---|---|---|---|---|"
  for q in a srv; do
    med() { awk -F, -v q="$q" -v col="$2" 'NR>1 && $1==q {print $col}' "$1" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
    printf "| %s | %s | %s | %s | %s / %s / %s / %s | %s |\n" "${q^^}" \
      "$(med "$OUT/runs.csv" 3)" "$(med "$OUT/runs.csv" 4)" "$(med "$OUT/runs.csv" 5)" \
      "$(med "$OUT/latency.csv" 6)" "$(med "$OUT/latency.csv" 7)" "$(med "$OUT/latency.csv" 8)" "$(med "$OUT/latency.csv" 9)" \
      "$(awk -F, -v q="$q" 'NR>1 && $1==q {s+=$5} END {print s+0}' "$OUT/latency.csv")"
  done
} | tee "$OUT/summary.md"
