#!/usr/bin/env bash
# bench/syscalls.sh [SERVER ...] — system calls, context switches and CPU per
# answered query of poolnsd (and Knot, for comparison) under dnsperf, in
# bench/peers' split mode: the server on CPU 1 with one UDP socket or worker,
# dnsperf on CPU 0. SERVER is poolnsd (default), poolnsd-poller (the same
# binary with dns.udp_wait: poller, the loop waiting in Go's network poller)
# or knot. The zone is
# bench/peers' (web.pool.test: 10 elements).
#
# For each dnsperf setting, perf stat counts the server's system calls (all of
# them, and recvmmsg, sendmmsg, epoll_wait/epoll_pwait, futex, nanosleep by
# name) and context switches for 4 s in the middle of the run; CPU µs per
# query is the server's utime+stime over the whole run from /proc.
#
# Knobs: CONCURRENCY ("1:100 20:200", dnsperf -c:-q, closed loop), RATES
# ("20000": open loop, dnsperf -c 16 -q 1000 -Q RATE), QTYPE (a or srv),
# DURATION (6 s per run), PERF_PRIO (40: perf stat at SCHED_FIFO, above
# the others; empty for none), SERVER_PRIO (20: the server at SCHED_FIFO, as in
# bench/peers; empty for none; under it poolnsd's thread loops wait through the
# Go scheduler, docs/operations.md "Threads and GOMAXPROCS"), SHARED (empty; 1: bench/peers' shared mode,
# the server with 2 sockets or workers and dnsperf both on CPUs 0-1), LOAD_PRIO (empty; e.g. 10 runs dnsperf at
# SCHED_FIFO, which keeps it fed on a loaded machine), PORT (5420), BIN
# (poolnsd binary, built if unset). Needs perf, dnsperf, and knotd for knot.
# Every run is bounded; all traffic goes to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CONCURRENCY=${CONCURRENCY-"1:100 20:200"} RATES=${RATES-20000} QTYPE=${QTYPE:-a}
DURATION=${DURATION:-6} SERVER_PRIO=${SERVER_PRIO-20} LOAD_PRIO=${LOAD_PRIO:-} PERF_PRIO=${PERF_PRIO-40} PORT=${PORT:-5420}
SHARED=${SHARED:-} SCPUS=1 LCPUS=0 WORKERS=1
[ -n "$SHARED" ] && SCPUS=0,1 LCPUS=0,1 WORKERS=2
for tool in perf dnsperf taskset dig; do
  command -v $tool >/dev/null || { echo "syscalls: $tool is missing (apt-get install linux-perf dnsperf bind9-dnsutils)" >&2; exit 2; }
done
WORK=$(mktemp -d)
PID=
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
trap 'stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
if [ -z "${BIN:-}" ]; then
  go build -o "$WORK/poolnsd" ./cmd/poolnsd
  BIN=$WORK/poolnsd
fi
read -r QNAME QT < "bench/peers/queries/$QTYPE.txt"
for _ in $(seq 100); do echo "$QNAME $QT"; done > "$WORK/q.txt"
prio=(); [ -n "$SERVER_PRIO" ] && prio=(chrt -f "$SERVER_PRIO")
lprio=(); [ -n "$LOAD_PRIO" ] && lprio=(chrt -f "$LOAD_PRIO")
pprio=(); [ -n "$PERF_PRIO" ] && pprio=(chrt -f "$PERF_PRIO"); "${pprio[@]}" true 2>/dev/null || pprio=()
EV='raw_syscalls:sys_enter,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,context-switches'

start() { # start SERVER: the server on CPU 1, PID set, answering
  local d=$WORK/$1
  rm -rf "$d" && mkdir -p "$d"
  case $1 in
  poolnsd | poolnsd-poller)
    mkdir -p "$d/zones" "$d/data"
    cp bench/peers/zones/pool.test.poolnsd.zone "$d/zones/pool.test.zone"
    wait=thread; [ "$1" = poolnsd-poller ] && wait=poller
    printf 'dns:\n  listen: ["127.0.0.1:%s"]\n  udp_sockets: %s\n  udp_wait: %s\nhttp:\n  listen: ""\nzones: %s\ndata: %s\n' "$PORT" "$WORKERS" "$wait" "$d/zones" "$d/data" > "$d/c.yaml"
    GOMAXPROCS=$WORKERS "${prio[@]}" taskset -c "$SCPUS" "$BIN" serve --config "$d/c.yaml" > "$d/log" 2>&1 &
    ;;
  knot)
    cp bench/peers/zones/pool.test.zone "$d/"
    printf 'server:\n  rundir: "%s"\n  listen: 127.0.0.1@%s\n  udp-workers: %s\n  tcp-workers: 1\n  background-workers: 1\ndatabase:\n  storage: "%s"\nzone:\n  - domain: pool.test\n    file: "%s/pool.test.zone"\n    zonefile-sync: -1\n    journal-content: none\n' "$d" "$PORT" "$WORKERS" "$d" "$d" > "$d/knot.conf"
    "${prio[@]}" taskset -c "$SCPUS" knotd -c "$d/knot.conf" > "$d/log" 2>&1 &
    ;;
  *) echo "syscalls: unknown server $1 (poolnsd, poolnsd-poller, knot)" >&2; exit 2 ;;
  esac
  PID=$!
  for _ in $(seq 100); do
    dig +short +time=1 +tries=1 -p "$PORT" @127.0.0.1 pool.test SOA 2>/dev/null | grep -q hostmaster && break
    sleep 0.1
  done
  # Knot pins its UDP worker itself (bench/peers/lib.sh, repin): back on CPU 1.
  [ -n "$SHARED" ] || for t in /proc/$PID/task/*; do taskset -pc 1 "${t##*/}" > /dev/null 2>&1 || true; done
}

run() { # run SERVER LABEL DNSPERF-ARGS...: one line of figures
  local name=$1 label=$2 u0 s0 u1 s1 d
  shift 2
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  "${lprio[@]}" taskset -c "$LCPUS" dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q.txt" -e -T 1 -l "$DURATION" "$@" > "$WORK/dnsperf.txt" 2>&1 &
  d=$!
  sleep 1
  # perf above the server and dnsperf, so that it counts the 4 s it says.
  "${pprio[@]}" perf stat -x, -e "$EV" -p "$PID" -- sleep 4 2> "$WORK/stat.txt" > /dev/null
  wait "$d" || true
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  awk -v name="$name" -v label="$label" -v dt=$((u1 - u0 + s1 - s0)) -v hz="$(getconf CLK_TCK)" '
    FNR == NR { if (/Queries completed:/) q = $3; if (/Queries per second:/) qps = $4; next }
    { split($0, f, ","); n[f[3]] += f[1] }
    END {
      per = qps * 4
      printf "%-8s %-14s %8.0f q/s %6.2f CPU µs/q  syscalls/q %.3f (recvmmsg %.3f sendmmsg %.3f epoll %.3f futex %.3f nanosleep %.3f)  switches/q %.3f  q/batch %.1f\n",
        name, label, qps, 1e6 * dt / hz / q, n["raw_syscalls:sys_enter"] / per,
        n["syscalls:sys_enter_recvmmsg"] / per, n["syscalls:sys_enter_sendmmsg"] / per,
        (n["syscalls:sys_enter_epoll_wait"] + n["syscalls:sys_enter_epoll_pwait"]) / per,
        n["syscalls:sys_enter_futex"] / per, n["syscalls:sys_enter_nanosleep"] / per,
        n["context-switches"] / per, (n["syscalls:sys_enter_sendmmsg"] > 0 ? per / n["syscalls:sys_enter_sendmmsg"] : 0)
    }' "$WORK/dnsperf.txt" "$WORK/stat.txt"
}

echo "# $(date -u +%FT%TZ) uptime:$(uptime | sed 's/.*load average//') qtype $QTYPE${SHARED:+ shared}"
for s in "${@:-poolnsd}"; do
  start "$s"
  for cq in $CONCURRENCY; do run "$s" "closed $cq" -c "${cq%:*}" -q "${cq#*:}"; done
  for r in $RATES; do run "$s" "$r q/s" -c 16 -q 1000 -Q "$r"; done
  stop
done
