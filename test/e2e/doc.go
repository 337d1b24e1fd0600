// Package e2e holds no code: its tests are poolnsd's process tests. Each
// runs the built poolnsd (serve, check, config, status, drain, dnssec,
// demo) as real processes on loopback and drives them with real clients:
// miekg/dns, dig, nsupdate, kdig, unbound, delv, dnsperf, tshark and
// dumpcap, chromium, promtool, systemd-analyze and the poolclient library.
// They cover what only a process shows: start and stop, reload with a bad
// file, SIGHUP, SIGTERM under load, kill -9 during registrations, a
// second instance, probes of backends that die and come back, three
// registrars peering over TLS, the status page in a browser, the metrics
// and the systemd unit.
//
// # Basics
//
// TestMain builds github.com/poolnsd/poolnsd/cmd/poolnsd once into a
// temporary directory, with -race when the tests run with it, and fails a
// run that leaves a goroutine of the tests' own clients and backends
// behind. startDaemon runs "poolnsd serve" in a directory that daemonDir
// makes (a zone file, and a poolnsd.yaml that listens on 127.0.0.1:0 and
// logs JSON), and the tests wait on its log lines (internal/proctest),
// never on sleeps; t.Cleanup stops the processes and removes their
// directories. The exit codes and the timings the tests wait
// on are constants here, as the command documents them.
//
// # Caveats
//
// A test whose tool is missing fails, naming the Debian package
// (scripts/deps.sh installs them), and skips only under -short. The
// tests bind 127.0.0.1:0 and other 127.x addresses, so they need
// loopback only, but peering tests use 127.0.0.2 and 127.0.0.3, which
// Linux routes to lo. Where a port must be known before the server starts
// (peers named in each other's configuration, unbound), it comes from
// internal/nettest.FreePort: outside the kernel's ephemeral range, and
// held against the other tests until the test ends. A program that binds
// such a port by number can still take it: startPeers moves a cluster
// that finds one taken to new ports, and a server whose address the
// others know already (a peer started again) starts again on it after a
// pause, for a bounded time (whileTaken). The unit tests of the daemon's helpers, and the
// tests that run a daemon inside the test's process, are in cmd/poolnsd;
// the cluster in network namespaces is test/cluster.
package e2e
