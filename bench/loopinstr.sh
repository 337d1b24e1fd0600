#!/usr/bin/env bash
# bench/loopinstr.sh [SERVER ...] — instructions per answered query of a whole
# server process at a fixed, low query rate (300 q/s: about one query per
# batch, so that every query costs a park and a wake of the serving loop),
# counted by valgrind's callgrind: the count does not move with the machine's
# load, where CPU time does. SERVER is poolnsd (dns.udp_wait: thread, the
# default), poolnsd-poller (the same binary, dns.udp_wait: poller) or knot;
# default all three. One UDP socket or worker; bench/peers' zone.
#
# For each server and query type: start it under callgrind with
# instrumentation off, switch it on, run dnsperf -Q RATE for 2 s (warm-up),
# zero the counts, run RATE for DURATION s, dump, and divide the dump's
# instructions by the queries dnsperf completed. poolnsd runs with
# GODEBUG=asyncpreemptoff=1: callgrind asserts on the runtime's preemption
# signal otherwise. The daemon's own periodic goroutines are in the count.
#
# Knobs: QTYPES ("a srv"), RATE (300), DURATION (6), PORT (5451), BIN (the
# poolnsd binary, built if unset). Needs valgrind, dnsperf, dig, and knotd
# for knot. All traffic goes to 127.0.0.1; every server started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
QTYPES=${QTYPES:-"a srv"} RATE=${RATE:-300} DURATION=${DURATION:-6} PORT=${PORT:-5451}
for tool in valgrind callgrind_control dnsperf dig; do
  command -v $tool >/dev/null || { echo "loopinstr: $tool is missing (apt-get install valgrind dnsperf bind9-dnsutils)" >&2; exit 2; }
done
WORK=$(mktemp -d)
PID=
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
trap 'stop; rm -rf "$WORK"' EXIT
if [ -z "${BIN:-}" ]; then
  go build -o "$WORK/poolnsd" ./cmd/poolnsd
  BIN=$WORK/poolnsd
fi
mkdir -p "$WORK/zones" "$WORK/knot"
cp bench/peers/zones/pool.test.poolnsd.zone "$WORK/zones/pool.test.zone"
cp bench/peers/zones/pool.test.zone "$WORK/knot/"
printf 'server:\n  rundir: "%s"\n  listen: 127.0.0.1@%s\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: "%s"\nzone:\n  - domain: pool.test\n    file: "%s/pool.test.zone"\n    zonefile-sync: -1\n    journal-content: none\n' \
  "$WORK/knot" "$PORT" "$WORK/knot" "$WORK/knot" > "$WORK/knot/knot.conf"

count() { # count SERVER QTYPE: one line of figures
  local s=$1 qt=$2 cg=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.$1.$2")
  local qname qtype q t
  read -r qname qtype < "bench/peers/queries/$qt.txt"
  for _ in $(seq 100); do echo "$qname $qtype"; done > "$WORK/q.txt"
  rm -rf "$WORK/data" "$WORK"/cg.*; mkdir -p "$WORK/data"
  case $s in
  knot) "${cg[@]}" knotd -c "$WORK/knot/knot.conf" > "$WORK/log" 2>&1 & ;;
  poolnsd | poolnsd-poller)
    local wait=thread; [ "$s" = poolnsd-poller ] && wait=poller
    GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off "${cg[@]}" "$BIN" serve --dns.listen "127.0.0.1:$PORT" --dns.udp_sockets 1 \
      --dns.udp_wait "$wait" --http.listen= --zones "$WORK/zones" --data "$WORK/data" > "$WORK/log" 2>&1 & ;;
  *) echo "loopinstr: unknown server $s (poolnsd, poolnsd-poller, knot)" >&2; exit 2 ;;
  esac
  PID=$!
  for _ in $(seq 120); do
    dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 pool.test SOA 2>/dev/null | grep -q hostmaster && break
    sleep 0.5
  done
  callgrind_control -i on "$PID" > /dev/null 2>&1
  dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q.txt" -l 2 -Q "$RATE" > /dev/null 2>&1
  callgrind_control -z "$PID" > /dev/null 2>&1
  dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q.txt" -l "$DURATION" -Q "$RATE" > "$WORK/dnsperf.txt" 2>&1
  callgrind_control -d "$PID" > /dev/null 2>&1
  stop
  q=$(awk '/Queries completed:/{print $3}' "$WORK/dnsperf.txt")
  t=$(awk '/^totals:/{print $2}' "$WORK/cg.$s.$qt".*)
  printf '%-15s %-4s %6s queries at %s q/s  %7d instructions per query\n' "$s" "$qt" "$q" "$RATE" $((t / q))
}

echo "# $(date -u +%FT%TZ) uptime:$(uptime | sed 's/.*load average//')"
servers=("$@")
[ $# -gt 0 ] || servers=(poolnsd poolnsd-poller knot)
for s in "${servers[@]}"; do
  for qt in $QTYPES; do count "$s" "$qt"; done
done
