#!/usr/bin/env bash
# Installs what the tests and benchmarks use beyond Go: dig and nsupdate
# (bind9-dnsutils), kdig (knot-dnsutils), dnsperf, tshark and dumpcap
# (tshark: the Wireshark check of what peering sends), chromium (the status
# page's browser tests), promtool (prometheus: checks /metrics) and
# systemd-analyze (systemd: checks contrib/poolnsd.service), ip (iproute2)
# and chrt (util-linux: the cluster tests in network namespaces, which also
# need root and /dev/net/tun). Debian packages through
# apt-get when run as root and something is missing; otherwise says what to
# install. Go modules come from the module proxy (go mod download).
set -euo pipefail
need=()
command -v dig >/dev/null && command -v nsupdate >/dev/null || need+=(bind9-dnsutils)
command -v kdig >/dev/null || need+=(knot-dnsutils)
command -v dnsperf >/dev/null || need+=(dnsperf)
{ command -v taskset && command -v chrt; } >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
{ command -v tshark && command -v dumpcap; } >/dev/null || need+=(tshark)
command -v chromium >/dev/null || need+=(chromium)
command -v promtool >/dev/null || need+=(prometheus)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v stdbuf >/dev/null || need+=(coreutils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "deps: please install: ${need[*]} (Debian packages)" >&2
  fi
fi
go mod download
