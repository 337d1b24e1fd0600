#!/usr/bin/env bash
# The Wireshark check of registrar peering: runs TestWireshark, which
# captures a real exchange of three poolnsd (plain TCP on loopback, with
# dumpcap), replays every message poolnsd sent as one UDP datagram to port
# 9901 and has tshark's ENRP dissector decode them: no malformed packet, no
# expert warning, all ten RFC 5353 message types. Prints the dissector's
# names of what was sent. Needs tshark and dumpcap (Debian package tshark)
# and the right to capture (root or CAP_NET_RAW).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^TestWireshark$' -v ./test/e2e | grep -v '^\s*{' | grep -v 'serve_test.go'
