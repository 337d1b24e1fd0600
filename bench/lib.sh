# bench/lib.sh — what the DNS benchmark scripts share (sourced by
# bench/dnsperf.sh, bench/dnssec.sh and bench/coldsign.sh): the tools
# check, the work directory and its cleanup, the poolnsd binary, the
# bench.test. zone's parts, the configuration, and the wait for the first
# answer. Everything goes to 127.0.0.1.

# bench_need TOOL... exits 2, naming the Debian packages, when a tool is
# missing.
bench_need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install dnsperf bind9-dnsutils util-linux curl)" >&2; exit 2; }
  done
}

# bench_start makes OUT (absolute from then on) and WORK, a temporary
# directory that the exit removes after stopping PID and the processes in
# BENCH_PIDS (the caller's own, killed first).
bench_start() {
  mkdir -p "$OUT"
  OUT=$(cd "$OUT" && pwd)
  WORK=$(mktemp -d)
  PID=
  BENCH_PIDS=
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local p
  for p in $BENCH_PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}

# bench_build sets BIN to a poolnsd built from the tree unless BIN is set.
bench_build() {
  if [ -z "${BIN:-}" ]; then
    go build -o "$WORK/poolnsd" ./cmd/poolnsd
    BIN=$WORK/poolnsd
  fi
}

# bench_zone_head prints bench.test.'s apex.
bench_zone_head() {
  echo '$ORIGIN bench.test.'
  echo '$TTL 300'
  echo '@ SOA ns1 hostmaster 1 3600 600 86400 5'
  echo '@ NS ns1'
  echo 'ns1 A 127.0.0.1'
}

# bench_pools prints the 100 pools p0..p99 of 10 elements, the policies
# rr, wrr, rand, wrand, prio, lu, lud, plu, rlu, hash in turn, and writes
# their query files: $WORK/a.txt (A) and $WORK/srv.txt (SRV).
bench_pools() {
  local policies=(rr wrr rand wrand prio lu lud plu rlu hash) p e
  for p in $(seq 0 99); do
    echo "\$POOL p$p policy=${policies[$((p % 10))]} service=_http._tcp ttl=5 answers=3"
    for e in $(seq 1 10); do
      echo "p$p PE 127.1.$p.$e:8080 weight=$e prio=$((e % 3)) load=$((e * 7 % 100))% loaddeg=1%"
    done
  done
  for p in $(seq 0 99); do echo "p$p.bench.test. A"; done > "$WORK/a.txt"
  for p in $(seq 0 99); do echo "_http._tcp.p$p.bench.test. SRV"; done > "$WORK/srv.txt"
}

# bench_big N prints "big", a rand pool of N elements (3 per answer).
bench_big() {
  local e
  echo "\$POOL big policy=rand ttl=5 answers=3"
  for e in $(seq 0 $(($1 - 1))); do echo "big PE 127.2.$((e / 250)).$((e % 250 + 1)):8080"; done
}

# bench_config HTTP writes $WORK/poolnsd.yaml: DNS on 127.0.0.1:$PORT, the
# HTTP API on HTTP ("" for none), zones and data in WORK.
bench_config() {
  cat > "$WORK/poolnsd.yaml" <<YAML
dns:
  listen: ["127.0.0.1:$PORT"]
http:
  listen: "$1"
zones: $WORK/zones
data: $WORK/data
YAML
}

# bench_wait LOG waits until poolnsd (PID) answers bench.test.'s SOA on
# PORT (20 s at the most); if it exits first, prints LOG and exits 1.
bench_wait() {
  local _
  for _ in $(seq 100); do
    dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 +short bench.test. SOA 2>/dev/null | grep -q hostmaster && return 0
    kill -0 "$PID" 2>/dev/null || { echo "bench: poolnsd exited:" >&2; cat "$1" >&2; exit 1; }
    sleep 0.2
  done
}
