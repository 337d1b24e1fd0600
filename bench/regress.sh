#!/usr/bin/env bash
# bench/regress.sh — did a change slow the query path? Compares the working
# tree with a base commit (default: HEAD), in one run:
#
#  1. instructions per query of every case of BenchmarkServe (dnsfront's
#     handler through a dns.Msg: the path of TCP) and BenchmarkServeLoop
#     (the UDP loop serving a datagram's bytes), in process, counted by
#     valgrind's callgrind: the same binary and inputs count the same
#     whatever else the machine does, so a 1 % change is visible on a
#     loaded machine where ns/op is not (about 1 % of noise remains, from
#     the garbage collector). Each count is the difference of two runs (N1
#     and N2 queries), divided by N2-N1, so that set-up cancels out.
#     BENCHES=ServeUDP counts the whole UDP path instead (a client on
#     loopback, Start's server: the loop's system calls and batching too),
#     noisier (about 3 %: how the loop batches varies from run to run);
#  2. allocations per query of the same cases (go test -benchmem);
#  3. with DNSPERF=1, the server's CPU µs per answered query under dnsperf
#     (bench/dnsperf.sh, A and SRV), base and new interleaved REPS times.
#
# Usage: bench/regress.sh [BASE] (a commit, default HEAD). Knobs: BENCHES
# ("Serve ServeLoop"), CASES (a regexp of case names, default all), N1
# (2000), N2 (12000), DNSPERF (0), REPS (3), DURATION (5 s per dnsperf
# run). A benchmark the base lacks shows "-". Needs valgrind (and dnsperf
# for part 3).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-HEAD} N1=${N1:-2000} N2=${N2:-12000} CASES=${CASES:-.} REPS=${REPS:-3}
BENCHES=${BENCHES:-Serve ServeLoop}
command -v valgrind >/dev/null || { echo "regress: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
WORK=$(mktemp -d)
cleanup() { git worktree remove --force "$WORK/base" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
git worktree add -q --detach "$WORK/base" "$BASE"
(cd "$WORK/base" && go test -c -o "$WORK/base.test" ./dnsfront)
go test -c -o "$WORK/new.test" ./dnsfront

# pattern BENCH CASE: the -test.bench pattern of one case.
pattern() { echo "Benchmark$1\$/^$(sed 's|/|$/^|' <<<"$2")\$"; }

# instr BINARY BENCH CASE N: instructions of a run of N queries.
instr() {
  local out=$WORK/cg.out
  rm -f "$out"
  GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$1" -test.run XXX -test.bench "$(pattern "$2" "$3")" -test.benchtime "${4}x" -test.cpu 1 >"$WORK/run.txt" 2>&1 || return 1
  grep -q "^Benchmark$2/" "$WORK/run.txt" || return 1
  awk '/^totals:/{print $2}' "$out"
}

allocs() {
  "$1" -test.run XXX -test.bench "$(pattern "$2" "$3")" -test.benchmem -test.benchtime 2000x -test.cpu 1 2>/dev/null |
    awk '/allocs\/op/{for(i=1;i<=NF;i++) if($i=="allocs/op") print $(i-1)}'
}

for bench in $BENCHES; do
  # The case names, from the new binary.
  mapfile -t cases < <("$WORK/new.test" -test.run XXX -test.bench "Benchmark$bench\$" -test.benchtime 1x -test.cpu 1 2>/dev/null |
    awk -v b="Benchmark$bench/" 'index($1, b)==1{print substr($1, length(b)+1)}' | grep -E "$CASES" || true)
  echo
  printf '%-44s %12s %12s %7s %8s\n' "Benchmark$bench" "base instr/q" "new instr/q" ratio "allocs"
  for c in "${cases[@]}"; do
    declare -A per=()
    for v in base new; do # interleaved: base, new, each N1 then N2
      a=$(instr "$WORK/$v.test" "$bench" "$c" "$N1") || { per[$v]=-; continue; }
      b=$(instr "$WORK/$v.test" "$bench" "$c" "$N2") || { per[$v]=-; continue; }
      per[$v]=$(((b - a) / (N2 - N1)))
    done
    ratio=-
    if [ "${per[base]}" != - ] && [ "${per[new]}" != - ]; then
      ratio=$(awk -v a="${per[base]}" -v b="${per[new]}" 'BEGIN{printf "%.3f", b/a}')
    fi
    printf '%-44s %12s %12s %7s %8s\n' "$c" "${per[base]}" "${per[new]}" "$ratio" \
      "$(allocs "$WORK/base.test" "$bench" "$c")->$(allocs "$WORK/new.test" "$bench" "$c")"
  done
done

if [ "${DNSPERF:-0}" = 1 ]; then
  (cd "$WORK/base" && go build -o "$WORK/poolnsd.base" ./cmd/poolnsd)
  go build -o "$WORK/poolnsd.new" ./cmd/poolnsd
  echo
  echo "dnsperf, server CPU µs per answered query (base and new interleaved, $REPS rounds):"
  printf '%-6s %-5s %10s %10s\n' round qtype base new
  for r in $(seq 1 "$REPS"); do
    for v in base new; do
      BIN="$WORK/poolnsd.$v" REPS=1 DURATION=${DURATION:-5} LAT_DURATION=1 OUT="$WORK/out.$v.$r" ./bench/dnsperf.sh >/dev/null 2>&1 ||
        echo "regress: bench/dnsperf.sh failed for $v" >&2
    done
    for q in a srv; do
      cpu() { awk -F, -v q="$q" 'NR>1 && $1==q {print $5}' "$WORK/out.$1.$r/runs.csv" 2>/dev/null; }
      printf '%-6s %-5s %10s %10s\n' "$r" "$q" "$(cpu base)" "$(cpu new)"
    done
  done
fi
