#!/usr/bin/env bash
# bench/udpnice.sh [BIN] — the pure UDP query path with dns.udp_nice 0
# against -10: one binary (default: a build of the working tree), the
# setting through POOLNSD_DNS_UDP_NICE, PAIRS pairs interleaved. The server
# runs on CPU 1 (GOMAXPROCS 1, one UDP socket), dnsperf open loop at RATE
# q/s on CPU 0 for DUR seconds after a 2 s warm-up. Per run: the server's
# CPU per query and run delay (schedstat of its threads), datagrams per
# recvmmsg (its /metrics), context switches per query, dnsperf's average
# latency. Ports: DNS_PORT and DNS_PORT+1 (HTTP), default 15300.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-20000} DUR=${DUR:-10} PAIRS=${PAIRS:-4} PORT=${DNS_PORT:-15300}
BIN=${1:-}
if [ -z "$BIN" ]; then BIN=$(mktemp); go build -o "$BIN" ./cmd/poolnsd; fi
WORK=$(mktemp -d)
P=
trap '[ -n "$P" ] && kill "$P" 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/zones"
cp bench/peers/zones/pool.test.poolnsd.zone "$WORK/zones/pool.test.zone"
Q=bench/peers/queries/a.txt
schedsum() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{r+=$1; d+=$2} END {printf "%d %d", r, d}'; }
switches() { awk '/^(non)?voluntary_ctxt_switches/ {s+=$2} END {print s}' /proc/"$1"/task/*/status; }
metric() { curl -s "http://127.0.0.1:$((PORT+1))/metrics" | awk -v k="$1" '$1==k {print $2}'; }
for i in $(seq "$PAIRS"); do for n in 0 -10; do
  rm -rf "$WORK/data"
  POOLNSD_DNS_UDP_NICE=$n GOMAXPROCS=1 taskset -c 1 "$BIN" serve --dns.listen "127.0.0.1:$PORT" \
    --http.listen "127.0.0.1:$((PORT+1))" --data "$WORK/data" --zones "$WORK/zones" --dns.udp_sockets 1 > "$WORK/log" 2>&1 &
  P=$!
  sleep 1.5
  taskset -c 0 dnsperf -s 127.0.0.1 -p "$PORT" -d "$Q" -l 2 -Q "$RATE" > /dev/null 2>&1
  read -r r0 d0 <<<"$(schedsum $P)"; cs0=$(switches $P)
  rc0=$(metric 'poolnsd_dns_udp_syscalls_total{direction="read"}'); m0=$(metric 'poolnsd_dns_udp_datagrams_total{direction="read"}')
  out=$(taskset -c 0 dnsperf -s 127.0.0.1 -p "$PORT" -d "$Q" -l "$DUR" -Q "$RATE" 2>&1)
  read -r r1 d1 <<<"$(schedsum $P)"; cs1=$(switches $P)
  rc1=$(metric 'poolnsd_dns_udp_syscalls_total{direction="read"}'); m1=$(metric 'poolnsd_dns_udp_datagrams_total{direction="read"}')
  niced=$(metric poolnsd_dns_udp_niced_loops)
  kill "$P"; wait "$P" 2>/dev/null || true; P=
  q=$(awk '/Queries completed/ {print $3}' <<<"$out"); lat=$(awk '/Average Latency/ {print $4}' <<<"$out")
  awk -v i="$i" -v n="$n" -v nl="${niced:-?}" -v q="$q" -v r=$((r1-r0)) -v d=$((d1-d0)) -v rc="$rc0" -v rc1="$rc1" \
    -v m="$m0" -v m1="$m1" -v cs=$((cs1-cs0)) -v lat="$lat" -v dur="$DUR" -v ld="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN {printf "pair %d udp_nice %3s (niced loops %s): %d q, CPU %.2f µs/q, run delay %.1f%%, %.2f datagrams/recvmmsg, %.3f switches/q, dnsperf avg %.0f µs, load %s\n",
      i, n, nl, q, r/1000/q, d/1e7/dur, (m1-m)/(rc1-rc), cs/q, lat*1e6, ld}'
done; done
