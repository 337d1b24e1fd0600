#!/usr/bin/env bash
# bench/dnssec.sh — the cost of online signing under dnsperf: the server's
# CPU time per answered query with the DO bit (signed answers) beside the
# same queries without it (unsigned, the fast path), interleaved in one run.
#
# Zone: bench.test., signed with a key of ALG (13, ECDSAP256SHA256, or 15,
# Ed25519) made by "poolnsd dnssec keygen": dnsperf.sh's 100 pools x 10
# elements (policies rr, wrr, rand, wrand, prio, lu, lud, plu, rlu, hash in
# turn), A and SRV mixes over all of them (A is warm: a pool makes few
# RRsets, signed once each; SRV carries the policy order in its priority
# field, so a pool whose order changes from query to query (rand, rlu, and
# the least-used ones as their selections add load degradation) makes new
# RRsets), SRV of the pools of rr, wrr, wrand, prio and hash (srvwarm:
# few RRsets each), and the worst case: "big", a rand pool of BIG elements
# (default 1000), 3 per A answer, nearly every answer a new RRset that is
# signed as it is sent. poolnsd is pinned to SERVER_CPU with GOMAXPROCS=1,
# dnsperf to LOAD_CPU; all traffic goes to 127.0.0.1.
#
# Before the measured runs, a warm-up of WARMUP seconds sends the a and srv
# mixes with DO and records, second by second, the signatures made (the signature
# cache's misses and refreshes from /metrics) and the server's CPU time:
# $OUT/warmup.csv, the warm-up curve. Once every RRset the pools make has
# been signed the curve falls to zero; pools that keep making new RRsets
# keep it up.
#
# Knobs: ALG (13), BIG (1000), DURATION (5 s per run), REPS (3), PORT (5398),
# HTTP_PORT (PORT+1, for /metrics), WARMUP (30 s; 0: none), MIXES ("a
# srvwarm srv rand"), OUT (bench/out/dnssec), BIN (built if unset).
set -euo pipefail
cd "$(dirname "$0")/.."
ALG=${ALG:-13} BIG=${BIG:-1000} DURATION=${DURATION:-5} REPS=${REPS:-3}
PORT=${PORT:-5398} HTTP_PORT=${HTTP_PORT:-$((${PORT:-5398} + 1))} WARMUP=${WARMUP:-30}
MIXES=${MIXES:-a srvwarm srv rand} SERVER_CPU=${SERVER_CPU:-1} LOAD_CPU=${LOAD_CPU:-0}
OUT=${OUT:-bench/out/dnssec}
. bench/lib.sh
bench_need dnsperf taskset dig curl
bench_start
bench_build

mkdir -p "$WORK/zones" "$WORK/data"
{
  bench_zone_head
  bench_pools
  bench_big "$BIG"
} > "$WORK/zones/bench.zone"
# SRV of the pools whose SRV RRsets repeat (rr: one per rotation; wrr,
# wrand: one, the order is the weights'; prio; hash: one per client): warm.
for p in $(seq 0 99); do
  case $((p % 10)) in 0|1|3|4|9) echo "_http._tcp.p$p.bench.test. SRV" ;; esac
done > "$WORK/srvwarm.txt"
echo "big.bench.test. A" > "$WORK/rand.txt"
cat "$WORK/a.txt" "$WORK/srv.txt" > "$WORK/warm.txt" # the warm-up's: the a and srv mixes
bench_config "127.0.0.1:$HTTP_PORT"
"$BIN" dnssec keygen --config "$WORK/poolnsd.yaml" --algorithm "$ALG" bench.test. > "$OUT/keygen.txt"

GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$BIN" serve --config "$WORK/poolnsd.yaml" > "$OUT/server.log" 2>&1 &
PID=$!
bench_wait "$OUT/server.log"
# Check the answers before measuring: signed with DO, unsigned without.
[ "$(dig @127.0.0.1 -p "$PORT" +dnssec +short p0.bench.test. A | grep -c "^A $ALG ")" = 1 ] || { echo "bench: no RRSIG with DO" >&2; exit 1; }
[ "$(dig @127.0.0.1 -p "$PORT" +short p0.bench.test. A | wc -l)" = 3 ] || { echo "bench: wrong A answer" >&2; exit 1; }

TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# counters: "signatures queries": the signature cache's misses and
# refreshes so far (each one signature per active key), and the queries
# answered so far.
counters() {
  curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '
    /^poolnsd_dnssec_cache_lookups_total[{]result="(miss|refresh)"[}]/ {s += $2}
    /^poolnsd_dns_queries_total[{ ]/ {q += $NF}
    END {printf "%d %d", s, q}'
}
signatures() { counters | cut -d' ' -f1; }

# The warm-up curve: the a and srv mixes with DO for WARMUP seconds, sampled about
# every second (each interval measured, not assumed): signatures made per
# second and per 1000 queries answered, and the server's CPU per query.
echo "elapsed_s,queries_per_s,signatures_per_s,signatures_per_1000q,cpu_us_per_q,signatures_total" > "$OUT/warmup.csv"
if [ "$WARMUP" -gt 0 ]; then
  taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -D -d "$WORK/warm.txt" -l "$WARMUP" -c 20 -q 200 -t 2 \
    > "$OUT/dnsperf.warmup.txt" 2>&1 &
  LOADPID=$!
  read -r s0 q0 <<<"$(counters)"
  c0=$(cpu_ticks) t0=$(date +%s.%N) start=$t0 i=0
  while kill -0 "$LOADPID" 2>/dev/null && [ "$i" -lt $((2 * WARMUP + 10)) ]; do
    sleep 1
    i=$((i + 1))
    read -r s1 q1 <<<"$(counters)"
    c1=$(cpu_ticks) t1=$(date +%s.%N)
    awk -v s="$((s1 - s0))" -v q="$((q1 - q0))" -v c="$((c1 - c0))" -v tck="$TCK" -v t0="$t0" -v t1="$t1" -v start="$start" -v tot="$s1" \
      'BEGIN { dt = t1 - t0; if (q == 0) q = 1
               printf "%.1f,%.0f,%.0f,%.1f,%.2f,%d\n", t1 - start, q / dt, s / dt, s * 1000 / q, c / tck * 1e6 / q, tot }' >> "$OUT/warmup.csv"
    s0=$s1 q0=$q1 c0=$c1 t0=$t1
  done
  wait "$LOADPID" || true
  echo "warm-up, a and srv mixes with DO, ${WARMUP} s: signatures per 1000 queries, second by second:"
  awk -F, 'NR>1 {printf "%s%s", sep, $4; sep=" "} END {print ""}' "$OUT/warmup.csv"
  grep 'Queries per second' "$OUT/dnsperf.warmup.txt" || true
fi
SIGS_BEFORE=$(signatures)

echo "mix,do,rep,qps,cpu_us_per_q,completed,lost,signatures" > "$OUT/runs.csv"
for rep in $(seq "$REPS"); do
  for q in $MIXES; do
    for do in 0 1; do # interleaved: unsigned, signed
      flag=()
      [ "$do" = 1 ] && flag=(-D)
      g0=$(signatures) t0=$(cpu_ticks)
      taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$PORT" "${flag[@]}" -d "$WORK/$q.txt" -l "$DURATION" -c 20 -q 200 -t 2 \
        > "$OUT/dnsperf.$q.do$do.r$rep.txt" 2>&1
      t1=$(cpu_ticks) g1=$(signatures)
      awk -v q="$q" -v dobit="$do" -v rep="$rep" -v ticks="$((t1 - t0))" -v tck="$TCK" -v sigs="$((g1 - g0))" '
        /Queries completed:/ {c=$3} /Queries lost:/ {l=$3} /Queries per second:/ {qps=$4}
        END { printf "%s,%d,%d,%.0f,%.2f,%d,%d,%d\n", q, dobit, rep, qps, (ticks/tck*1e6)/c, c, l, sigs }' \
        "$OUT/dnsperf.$q.do$do.r$rep.txt" | tee -a "$OUT/runs.csv"
    done
  done
done

# Medians over the repetitions, and the signed/unsigned CPU ratio.
{
  echo "## Signed answers under dnsperf ($(date -u +%F), algorithm $ALG, ${DURATION}s runs, median of $REPS; server on CPU $SERVER_CPU, dnsperf on CPU $LOAD_CPU; load: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| mix | q/s without DO | q/s with DO | CPU µs/q without DO | CPU µs/q with DO | CPU ratio | ratio of each rep (median) |"
  echo "|---|---|---|---|---|---|---|"
  med() { awk -F, -v q="$1" -v d="$2" -v col="$3" 'NR>1 && $1==q && $2==d {print $col}' "$OUT/runs.csv" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
  for q in $MIXES; do
    u=$(med $q 0 5) s=$(med $q 1 5)
    # The ratio of each rep's signed run to the unsigned run just before it.
    reps=$(awk -F, -v q="$q" 'NR>1 && $1==q {if ($2==0) u[$3]=$5; else s[$3]=$5}
      END {for (r in s) if (u[r] > 0) printf "%.2f\n", s[r]/u[r]}' "$OUT/runs.csv" | sort -g)
    printf "| %s | %s | %s | %s | %s | %.2f | %s (%s) |\n" "$q" "$(med $q 0 4)" "$(med $q 1 4)" "$u" "$s" "$(echo "$s / $u" | bc -l)" \
      "$(echo $reps | tr ' ' '/')" "$(echo "$reps" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')"
  done
  echo
  echo "Signatures made during the measured runs (cache misses and refreshes): $(($(signatures) - SIGS_BEFORE))"
} | tee "$OUT/summary.md"
