#!/usr/bin/env bash
# bench/demo-timing.sh — what a user of `poolnsd demo` sees: how long after a
# backend is stopped it leaves the DNS answers, and how long after it is
# started again it is back, for several down times (the probe backoff of a
# down element makes the return slower the longer it was down).
#
#   bench/demo-timing.sh [TRIALS]        (default 5 per down time)
#   DOWN="1 3 8 20" bench/demo-timing.sh
#
# Runs bin/poolnsd demo on 127.0.0.1:5390 (DNS) and 127.0.0.1:8390 (HTTP),
# backends on 127.0.0.2-5 with free ports; polls the SRV answer (every
# served backend) with dig every ~20 ms. Loopback only; stops what it
# started.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIALS=${1:-5}
DOWN=${DOWN:-"1 3 8 20"}
DNS=127.0.0.1:5390 HTTP=127.0.0.1:8390
go build -o bin/poolnsd ./cmd/poolnsd
log=$(mktemp)
./bin/poolnsd demo --dns.listen $DNS --http.listen $HTTP --backend-port 0 </dev/null >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
served() { dig @127.0.0.1 -p ${DNS#*:} +short +time=1 +tries=1 _http._tcp.web.demo.example SRV 2>/dev/null; }
now() { date +%s.%N; }
for i in $(seq 200); do served | grep -q web2 && break; sleep 0.05; done
served | grep -q web2 || { echo "demo did not serve web2" >&2; cat "$log" >&2; exit 1; }
echo "uptime: $(uptime)"
printf '%-8s %-6s %-10s %-10s\n' down_s trial leave_s back_s
for d in $DOWN; do
  for t in $(seq "$TRIALS"); do
    t0=$(now); curl -s -X POST "http://$HTTP/demo/backends/web2/stop" >/dev/null
    for _ in $(seq 1500); do served | grep -q web2 || break; done   # bounded: ~30 s
    served | grep -q web2 && { echo "web2 did not leave the answers" >&2; exit 1; }
    t1=$(now)
    # stay down d seconds from the stop
    sleep "$(echo "$d - ($t1 - $t0)" | bc -l | sed 's/^-.*/0/')"
    t2=$(now); curl -s -X POST "http://$HTTP/demo/backends/web2/start" >/dev/null
    for _ in $(seq 1500); do served | grep -q web2 && break; done
    served | grep -q web2 || { echo "web2 did not come back" >&2; exit 1; }
    t3=$(now)
    printf '%-8s %-6s %-10.3f %-10.3f\n' "$d" "$t" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t3 - $t2" | bc -l)"
    sleep 1
  done
done
echo "uptime: $(uptime)"
