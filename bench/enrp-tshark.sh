#!/usr/bin/env bash
# The Wireshark check of registrar peering: runs TestWireshark, which
# captures a real exchange of three poolnsd (plain TCP on loopback, with
# dumpcap), writes every message poolnsd sent as one UDP datagram to the
# ENRP port into a capture file of its own and has tshark's ENRP dissector
# decode them: the message type, header, parameters, element identifiers
# and policies as sent, no malformed packet, no expert warning, all ten
# RFC 5353 message types; and TestWiresharkCodec, which does the same for
# a corpus that holds everything enrp/wire can encode (every message
# type, flag, parameter, policy, hand-off kind, element flag, cause and
# refusal reason, as read from the codec's source). Prints the dissector's
# names of what was sent. Needs tshark and dumpcap (Debian package tshark)
# and the right to capture (root or CAP_NET_RAW) for TestWireshark.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -count=1 -run '^TestWireshark(Codec)?$' -v ./test/e2e | grep -v '^\s*{' | grep -v 'serve_test.go'
