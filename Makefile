# poolnsd — see README.md.
GO       ?= go
BIN      ?= bin/poolnsd
FUZZTIME ?= 30s
PREFIX   ?= /usr/local
PKGS     := ./...

.PHONY: all build install run demo test test-short test-cluster bench bench-go bench-dnsperf bench-dnssec bench-coldsign bench-register bench-failover bench-peers bench-syscalls bench-enrp bench-tshark bench-regress lint fuzz check deps docs clean

all: lint test build

# scripts/build.sh says so before a first build (an empty build cache
# takes a minute or more; later builds a few seconds).
build:
	@GO=$(GO) ./scripts/build.sh $(BIN)

# Installs bin/poolnsd as $(PREFIX)/bin/poolnsd (default /usr/local/bin,
# on PATH), so that the docs' `poolnsd …` commands run as written.
install: build
	install -D -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/poolnsd

# Serve the example zone (zones/example.zone) on the built-in defaults:
# DNS on 127.0.0.1:5300, data in ./data. ARGS go to the command
# (make run ARGS="--dns.listen 127.0.0.1:5301").
run: build
	./$(BIN) serve $(ARGS)

# A demo pool of four local HTTP backends, probed; kill one and watch it
# leave the answers (see README.md, the tour).
demo: build
	./$(BIN) demo $(ARGS)

# Everything: unit, end-to-end (real sockets, dig), process tests, fuzz seeds,
# with the race detector (which needs cgo: scripts/deps.sh installs gcc).
# The cluster test in network namespaces (test/cluster) runs after the
# others, alone: its registrars and lab process run at raised priority and
# would take CPU from the other packages' timing tests.
test: deps
	$(GO) test -race -count=1 -timeout 30m $$($(GO) list $(PKGS) | grep -v /test/cluster)
	$(GO) test -race -count=1 -timeout 10m ./test/cluster

# Quicker: no -race, -short (fewer randomised seeds, no 50 000-element
# memory test, tests whose tool is missing skip), nothing installed.
test-short:
	$(GO) test -short -count=1 $(PKGS)

# Every cluster scenario in network namespaces (needs root, iproute2 and
# /dev/net/tun; see docs/development.md): kill -9, SIGSTOP, a link down,
# a 2|3 split, a blackhole, SIGTERM and restart, five registrars and 1 000
# elements each, about 7 minutes. make test runs only the short one
# (TestClusterKill).
test-cluster: deps
	NETLAB_LONG=1 $(GO) test -count=1 -v -timeout 30m -run 'TestCluster' ./test/cluster

deps:
	./scripts/deps.sh

# Go benchmarks (handler allocations, selection at 10/1000/100000,
# registration batches, store writes, memory per element, the prober's CPU
# per probe), the dnsperf load test, the registration load test, the
# failover benchmark and the peering benchmark.
bench: bench-go bench-dnsperf bench-register bench-failover bench-enrp

bench-go:
	$(GO) test -run XXX -bench . -benchmem -benchtime 1s ./handlespace
	$(GO) test -run XXX -bench . -benchmem -benchtime 1s ./store
	$(GO) test -run XXX -bench 'Serve' -benchmem ./dnsfront
	$(GO) test -run XXX -bench 'MemoryPerElement' -benchtime 1x ./dnsfront
	$(GO) test -run XXX -bench . ./probe

# TSIG-signed DNS UPDATE registrations per second, 64 clients, against the
# built poolnsd on 127.0.0.1:5410 (real socket, bbolt with fsync).
bench-register: build
	$(GO) run ./bench/register -poolnsd $(BIN) -clients 64 -duration 10s

# Failover times (5 real HTTP backends; kill and freeze; 1 s and 100 ms
# intervals; with and without failure reports) and the CPU of probing
# 10 000 elements. DNS on 127.0.0.1:5400, HTTP API on 127.0.0.1:8400,
# backends on 127.0.3.x and 127.0.4.x. TRIALS=20 per scenario.
bench-failover: build
	./bench/failover.sh

bench-dnsperf: deps
	./bench/dnsperf.sh

# Signed answers (DO) beside unsigned ones under dnsperf, interleaved: the
# server's CPU per query, warm and worst case (ALG=15 for Ed25519).
bench-dnssec: deps
	./bench/dnssec.sh

# Warm signed answers at a fixed rate beside a flood of new RRsets (a rand
# pool): the warm answers' latency percentiles under dnsperf, with and
# without the flood (bench/coldsign.sh BIN... compares binaries).
bench-coldsign: deps
	./bench/coldsign.sh

# Registrar peering on 127.0.0.1-127.0.0.8 (DNS port 5420, ENRP 9901, TLS):
# registration-to-answer time with 3 and 8 registrars, a 100 000-element
# sync, bytes per update; and the Go benchmarks of the ENRP codec
# (enrp/wire) and of the hand-off (enrp).
bench-enrp: build
	$(GO) test -run XXX -bench . -benchmem ./enrp/wire ./enrp
	$(GO) run ./bench/enrp -poolnsd $(BIN)

# The Wireshark check of what peering sends (needs tshark, and root or
# CAP_NET_RAW to capture).
bench-tshark: deps
	./bench/enrp-tshark.sh

# poolnsd beside knot, nsd and PowerDNS with the harness in bench/peers (long;
# install the peers first: bench/peers/install.sh).
bench-peers: build
	./bench/peers.sh

# System calls, context switches and CPU per query of poolnsd and Knot under
# dnsperf, bench/peers' split mode, closed loop and at 20 000 q/s (perf).
bench-syscalls:
	./bench/syscalls.sh poolnsd knot

# Did a change slow the query path? Instructions and allocations per query
# (callgrind; steady on a loaded machine) of the working tree against BASE
# (default HEAD), and with DNSPERF=1 dnsperf's server CPU per query, base
# and new interleaved. Needs valgrind (scripts/deps.sh installs it).
bench-regress:
	./bench/regress.sh $(BASE)

# gofmt, go vet and staticcheck (the version go.mod's tool directive pins:
# go tool staticcheck builds it from the module cache).
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fuzz:
	$(GO) test -run XXX -fuzz FuzzHandler -fuzztime $(FUZZTIME) ./dnsfront
	$(GO) test -run XXX -fuzz FuzzUpdate -fuzztime $(FUZZTIME) ./dnsfront/dnsupdate
	$(GO) test -run XXX -fuzz FuzzCheckMsg -fuzztime $(FUZZTIME) ./dnsfront/msgcheck
	$(GO) test -run XXX -fuzz FuzzUDPServe -fuzztime $(FUZZTIME) ./dnsfront
	$(GO) test -run XXX -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./internal/cookie
	$(GO) test -run XXX -fuzz FuzzFindOption -fuzztime $(FUZZTIME) ./internal/cookie
	$(GO) test -run XXX -fuzz FuzzFindOPT -fuzztime $(FUZZTIME) ./internal/ednsopt
	$(GO) test -run XXX -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./enrp/wire
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime $(FUZZTIME) ./zones
	$(GO) test -run XXX -fuzz FuzzReadKey -fuzztime $(FUZZTIME) ./dnssec

# Regenerate the generated parts of docs/ (the configuration and metrics
# references); go test ./docs fails while they are stale.
docs:
	$(GO) generate ./docs

# Validate the zone files in ./zones without serving.
check: build
	./$(BIN) check zones

clean:
	rm -rf bin bench/out
