#!/usr/bin/env bash
# bench/regress.sh — did a change slow the query path? Compares the working
# tree with a base commit (default: HEAD), in one run:
#
#  1. instructions per query of every BenchmarkServe case (dnsfront's
#     handler, in process), counted by valgrind's callgrind: the same
#     binary and inputs count the same whatever else the machine does, so
#     a 1 % change is visible on a loaded machine where ns/op is not. Each
#     count is the difference of two runs (N1 and N2 queries), divided by
#     N2-N1, so that set-up cancels out;
#  2. allocations per query of the same cases (go test -benchmem);
#  3. with DNSPERF=1, the server's CPU µs per answered query under dnsperf
#     (bench/dnsperf.sh, A and SRV), base and new interleaved REPS times.
#
# Usage: bench/regress.sh [BASE] (a commit, default HEAD). Knobs: CASES (a
# regexp of case names, default all), N1 (2000), N2 (12000), DNSPERF (0),
# REPS (3). Needs valgrind (and dnsperf for part 3).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-HEAD} N1=${N1:-2000} N2=${N2:-12000} CASES=${CASES:-.} REPS=${REPS:-3}
command -v valgrind >/dev/null || { echo "regress: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
WORK=$(mktemp -d)
cleanup() { git worktree remove --force "$WORK/base" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
git worktree add -q --detach "$WORK/base" "$BASE"
(cd "$WORK/base" && go test -c -o "$WORK/base.test" ./dnsfront)
go test -c -o "$WORK/new.test" ./dnsfront

# The case names, from the new binary (a case the base lacks is skipped).
mapfile -t cases < <("$WORK/new.test" -test.run XXX -test.bench 'BenchmarkServe$' -test.benchtime 1x -test.cpu 1 2>/dev/null |
  awk '/^BenchmarkServe\//{sub(/^BenchmarkServe\//,"",$1); print $1}' | grep -E "$CASES")

# instr BINARY CASE N: instructions of a run of N queries.
instr() {
  local pat out
  pat="BenchmarkServe\$/^$(sed 's|/|$/^|' <<<"$2")\$"
  out=$WORK/cg.out
  GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$1" -test.run XXX -test.bench "$pat" -test.benchtime "${3}x" -test.cpu 1 >/dev/null 2>&1 || return 1
  awk '/^totals:/{print $2}' "$out"
}
allocs() {
  "$1" -test.run XXX -test.bench "BenchmarkServe\$/^$(sed 's|/|$/^|' <<<"$2")\$" -test.benchmem -test.benchtime 2000x -test.cpu 1 2>/dev/null |
    awk '/allocs\/op/{for(i=1;i<=NF;i++) if($i=="allocs/op") print $(i-1)}'
}

printf '%-40s %12s %12s %7s %8s\n' case "base instr/q" "new instr/q" ratio "allocs"
for c in "${cases[@]}"; do
  declare -A per=()
  for v in base new; do # interleaved: base, new for N1, then for N2
    a=$(instr "$WORK/$v.test" "$c" "$N1") || { per[$v]=-; continue; }
    b=$(instr "$WORK/$v.test" "$c" "$N2") || { per[$v]=-; continue; }
    per[$v]=$(( (b - a) / (N2 - N1) ))
  done
  ratio=-
  [ "${per[base]}" != - ] && [ "${per[new]}" != - ] && ratio=$(awk -v a="${per[base]}" -v b="${per[new]}" 'BEGIN{printf "%.3f", b/a}')
  printf '%-40s %12s %12s %7s %8s\n' "$c" "${per[base]}" "${per[new]}" "$ratio" "$(allocs "$WORK/base.test" "$c")->$(allocs "$WORK/new.test" "$c")"
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
