// Command bigpool measures what a large handlespace costs a small pool's
// answers and what a change costs in a large pool (issue 13 parts 2 and 3),
// against real poolnsd processes on loopback.
//
// It starts one poolnsd per size in -sizes (default 1 000 and 1 000 000
// elements), each with a bbolt store filled beforehand with that many
// registrations spread over -pools pools (big0, big1, …) and a zone with
// a pool of 10 (small, policy rr, 3 answers). It logs how long each took
// to load its store (the start up to the "ready" line) and, from
// GODEBUG=gctrace=1, its live heap and its garbage-collection cycles.
// Every server is pinned to -server-cpu with GOMAXPROCS=1 (-gomaxprocs,
// one value or one per size);
// dnsperf and this program (its registration clients) run on -load-cpu. -pools takes one
// value per size too, and -poolnsd several binaries (each size runs with
// each, A B A B …), so that one run compares layouts and binaries.
//
// The servers share -server-cpu: while one is measured, the others move
// to -load-cpu (-park=false leaves them), since an idle server of
// 1 000 000 elements still collects its heap every 2 minutes (the
// runtime's forced collection, a large part of a second of CPU) and that
// would count in the measured server's latencies.
//
// First the idle CPU, -idle-reps rounds of -idle per server in turn: the
// median of the rounds without a collection, and the rounds with one
// apart. Then, for -reps rounds, the servers in turn (A B A B …, so that
// the ratio of two figures is taken under the same load of the machine):
//
//   - query: dnsperf closed loop (the CPU µs per query with the server
//     busy), then open loop at -rate q/s for -duration asking the small
//     pool's A: answered, lost, p50/p99/max latency, the server's CPU µs
//     per answered query (its threads' run time from schedstat), the run
//     delay (time its threads waited for a CPU) and the GC cycles during
//     the run;
//   - register: -regrate registrations a second for -duration into the
//     big pools (refreshes of registered elements, each with a new load, so
//     that every one is a change), through DNS UPDATE (TSIG) or HTTP PUT
//     (-via dns, http or both), paced by a clock and sent by -workers
//     clients: acknowledged, failed, latency, and the server's CPU per
//     acknowledged registration (and, beside it, the share of that its
//     idle CPU, measured at the start, would account for); the bytes it
//     allocated per acknowledged registration (its /metrics), and the
//     collector's share of the run (gctrace): the collections in it, their
//     mark clock and GC CPU, and what they come to at the natural rate
//     (bytes allocated a second over the heap's growth to its goal, each
//     collection costing what the run's did), which a run of a minute at
//     1 000 000 elements, one or two collections, cannot show by itself;
//   - mixed: both at once, the dnsperf figures under registrations.
//
// All traffic goes to 127.0.0.1; the ports are picked free at the start.
// Nothing runs at a real-time priority unless asked: -probe-prio and
// -server-prio (SCHED_FIFO) are for a quiet machine of your own, where they
// keep the probe's and the server's waits for a CPU out of the figures; on
// a shared machine a real-time process can take a CPU from everyone.
//
//	go build -o bin/poolnsd ./cmd/poolnsd
//	go run ./bench/bigpool -poolnsd bin/poolnsd -sizes 1000,1000000 -reps 3
//	go run ./bench/bigpool -poolnsd bin/poolnsd -sizes 1,1000000,1000000 -pools 1,1,10000 -phases query -idle-reps 6
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/store"
)

const (
	origin  = "bench.test."
	keyName = "bench-key."
	token   = "bench-token"
)

var secret = base64.StdEncoding.EncodeToString([]byte("bench-bigpool-secret-32-bytes!!!"))

type options struct {
	bin           string
	sizes         []int
	pools         []int
	idleReps      int
	reps          int
	rate, regRate int
	workers       int
	duration      time.Duration
	idle          time.Duration
	via           []string
	phases        []string
	serverCPU     string
	loadCPU       string
	gomaxprocs    []string
	perf          string
	keep          bool
	park          bool
	gogc          []string
	probeRate     int
	probePrio     int
	serverPrio    int
	probeBin      string // built into the run's directory
	env           []string
}

func main() {
	var o options
	sizes := flag.String("sizes", "1000,1000000", "elements of each server's big pools (comma-separated)")
	via := flag.String("via", "dns,http", "registration paths: dns, http")
	phases := flag.String("phases", "query,register,mixed", "what to measure each round")
	gogc := flag.String("gogc", "", "GOGC of each server, comma-separated as -sizes (\"\": poolnsd's default)")
	flag.StringVar(&o.bin, "poolnsd", "bin/poolnsd", "the poolnsd binary; several, comma-separated: each size runs with each (A B A B …)")
	pools := flag.String("pools", "1", "pools the elements of a server spread over: one value, or one per size (comma-separated)")
	flag.IntVar(&o.idleReps, "idle-reps", 1, "rounds of the idle measurement (the servers in turn, the others parked)")
	flag.IntVar(&o.reps, "reps", 3, "rounds")
	flag.IntVar(&o.rate, "rate", 20000, "dnsperf's offered queries per second")
	flag.IntVar(&o.regRate, "regrate", 1000, "registrations per second")
	flag.IntVar(&o.workers, "workers", 32, "registration clients")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "each measured run")
	flag.DurationVar(&o.idle, "idle", 3*time.Second, "how long the idle CPU is measured (and recorded with -perf)")
	flag.StringVar(&o.serverCPU, "server-cpu", "1", "CPU list the servers are pinned to (taskset)")
	flag.StringVar(&o.loadCPU, "load-cpu", "0", "CPU list of dnsperf and of this program's clients")
	gmp := flag.String("gomaxprocs", "1", "GOMAXPROCS of the servers: one value, or one per size (comma-separated)")
	flag.BoolVar(&o.keep, "keep", false, "keep the servers' directories")
	flag.BoolVar(&o.park, "park", true, "move the other servers to -load-cpu while one is measured: they share its CPU")
	flag.StringVar(&o.perf, "perf", "", "a directory: record each server idle and each register run's server with perf record -g there")
	flag.IntVar(&o.probeRate, "probe-rate", 1000, "bench/udpprobe's queries per second beside dnsperf's open-loop runs (0: no probe)")
	flag.IntVar(&o.probePrio, "probe-prio", 0, "the probe's SCHED_FIFO priority (0: normal). A real-time client can take a CPU from everything else on it: only on a machine of your own, for quiet runs (e.g. 30, with -server-prio 20), where it keeps the probe's own waits out of its figures")
	flag.IntVar(&o.serverPrio, "server-prio", 0, "the servers' SCHED_FIFO priority (0: normal), on all the measured server's threads while it is measured; guards it against other work of the machine. Under it the UDP loops of dns.udp_wait: thread wait through the Go scheduler, GOMAXPROCS not raised (docs/operations.md, Threads and GOMAXPROCS); poolnsd before that check stalled in a registration phase")
	env := flag.String("env", "", "more environment of the servers, comma-separated NAME=value (e.g. GOMEMLIMIT=1GiB)")
	flag.Parse()
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bigpool: -sizes: bad size %q\n", s)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	for _, p := range strings.Split(*pools, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bigpool: -pools: bad number %q\n", p)
			os.Exit(2)
		}
		o.pools = append(o.pools, n)
	}
	perSize("pools", len(o.pools), len(o.sizes), true)
	for len(o.pools) < len(o.sizes) {
		o.pools = append(o.pools, o.pools[0])
	}
	if *gogc != "" {
		o.gogc = strings.Split(*gogc, ",")
		perSize("gogc", len(o.gogc), len(o.sizes), false)
	}
	o.gomaxprocs = strings.Split(*gmp, ",")
	perSize("gomaxprocs", len(o.gomaxprocs), len(o.sizes), true)
	if *env != "" {
		o.env = strings.Split(*env, ",")
	}
	o.via = strings.Split(*via, ",")
	o.phases = strings.Split(*phases, ",")
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bigpool:", err)
		os.Exit(1)
	}
}

// server is one poolnsd under test.
// perSize exits with a usage error unless a flag gave n values, one per
// size, or (one) a single value that stands for every size.
func perSize(flag string, n, sizes int, one bool) {
	if n == sizes || (one && n == 1) {
		return
	}
	want := "a value per size"
	if one {
		want = "one value or one per size"
	}
	fmt.Fprintf(os.Stderr, "bigpool: -%s needs %s\n", flag, want)
	os.Exit(2)
}

type server struct {
	bin, tag      string // the binary; its name when there are several
	gogc          string
	gomaxprocs    string // "" when every server has the same
	n, pools      int
	dir           string
	dnsAt, httpAt string
	proc          *proctest.Proc
	pid           int
	idle          float64 // CPU seconds per second when nothing is asked of it
}

func run(o options) error {
	for _, tool := range []string{"dnsperf", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing (apt-get install dnsperf util-linux)", tool)
		}
	}
	root, err := os.MkdirTemp("", "bench-bigpool-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(root)
	}
	// This program's own threads (the registration clients, the store
	// it writes) run on -load-cpu beside dnsperf, never on the servers'
	// CPU: threads made later inherit the affinity of the thread that
	// makes them.
	if out, err := exec.Command("taskset", "-a", "-p", "-c", o.loadCPU, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		return fmt.Errorf("pin this program to -load-cpu %s: %v: %s", o.loadCPU, err, out)
	}
	if o.probeRate > 0 {
		o.probeBin = filepath.Join(root, "udpprobe")
		if out, err := exec.Command("go", "build", "-o", o.probeBin, "./bench/udpprobe").CombinedOutput(); err != nil {
			return fmt.Errorf("build bench/udpprobe (run bigpool from the repository's top): %v: %s", err, out)
		}
		if o.probePrio > 0 && exec.Command("chrt", "-f", strconv.Itoa(o.probePrio), "true").Run() != nil {
			fmt.Println("the probe cannot have SCHED_FIFO here: it runs at normal priority")
			o.probePrio = 0
		}
	}
	uptime()
	var (
		mu      sync.Mutex // servers, for the signal handler
		servers []*server
	)
	stopAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range servers {
			if s.proc != nil {
				s.proc.Kill()
			}
		}
	}
	defer stopAll()
	// Interrupted: the servers and their directories go too.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; !ok {
			return
		}
		stopAll()
		if !o.keep {
			os.RemoveAll(root)
		}
		fmt.Fprintln(os.Stderr, "bigpool: interrupted")
		os.Exit(1)
	}()
	bins := strings.Split(o.bin, ",")
	for i, n := range o.sizes {
		for j, bin := range bins {
			s := &server{n: n, pools: o.pools[i], dir: filepath.Join(root, fmt.Sprintf("s%d-%d", i, j)), bin: bin}
			if len(bins) > 1 {
				s.tag = filepath.Base(bin)
			}
			if o.gogc != nil {
				s.gogc = o.gogc[i]
			}
			if len(o.gomaxprocs) > 1 {
				s.gomaxprocs = o.gomaxprocs[i]
			}
			var like *server // a server with the same store, to copy it from
			for _, x := range servers {
				if x.n == s.n && x.pools == s.pools {
					like = x // the first: the one that wrote it
					break
				}
			}
			if err := s.prepare(like); err != nil {
				return err
			}
			if err := s.start(o); err != nil {
				return err
			}
			mu.Lock()
			servers = append(servers, s)
			mu.Unlock()
		}
	}
	time.Sleep(5 * time.Second) // the work of the start (GC of the load, first samples) settles
	// The servers share -server-cpu: while one is measured the others
	// move to -load-cpu, so that their own work (the collection of a large
	// heap that the runtime forces every 2 minutes, its timers) neither
	// takes the CPU from it nor counts in its latencies. (Stopping them
	// instead would make each one's forced collection fall due while it is
	// stopped, and so land in its own next measured run.)
	only := func(s *server) (restore func()) {
		if o.serverPrio > 0 {
			// Only while it is measured: a parked server at SCHED_FIFO
			// would take -load-cpu from dnsperf when it collects.
			s.prio(o.serverPrio)
			// The server sees the policy within a second while no
			// query comes (docs/operations.md, Threads and
			// GOMAXPROCS): let its UDP loops switch before the load.
			time.Sleep(1200 * time.Millisecond)
			defer func(r *func()) {
				park := *r
				*r = func() { s.prio(0); park() }
			}(&restore)
		}
		if !o.park {
			return func() {}
		}
		var moved []*server
		for _, x := range servers {
			if x != s && x.pin(o.loadCPU) == nil {
				moved = append(moved, x)
			}
		}
		return func() {
			for _, x := range moved {
				x.pin(o.serverCPU)
			}
		}
	}
	// The idle CPU: -idle-reps rounds of the servers in turn (the
	// others parked); each server's figure is the median of its rounds
	// without a collection (the runtime forces one every 2 minutes, which
	// at 1 000 000 elements costs a large part of a second: the rounds
	// with one are shown apart, with the collection's cost).
	idles := make([][]float64, len(servers))
	gcs := make([][]string, len(servers))
	for rep := 0; rep < o.idleReps; rep++ {
		for i, s := range servers {
			resume := only(s)
			if o.perf != "" && rep == 0 {
				out := filepath.Join(o.perf, fmt.Sprintf("%s-idle-%d.data", strings.ReplaceAll(s.name(), "/", "-"), time.Now().Unix()))
				rec := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(s.pid), "-o", out, "--", "sleep", strconv.Itoa(int(o.idle.Seconds())))
				if err := rec.Start(); err == nil {
					defer rec.Wait()
				}
			}
			from := s.proc.Cursor()
			idle := s.idleCPU(o.idle)
			resume()
			gc := gcSummary(s.proc.Log(), from)
			if gc == "no GC cycle" {
				idles[i] = append(idles[i], idle)
			} else {
				gcs[i] = append(gcs[i], fmt.Sprintf("%.2f ms/s with %s", idle*1e3, gc))
			}
			fmt.Printf("idle round %d %-16s CPU %.2f ms/s, %s (%s)\n", rep+1, s.name(), idle*1e3, gc, loadavg())
		}
	}
	for i, s := range servers {
		var all []string
		for _, x := range idles[i] {
			all = append(all, fmt.Sprintf("%.2f", x*1e3))
		}
		if len(idles[i]) > 0 {
			slices.Sort(idles[i])
			s.idle = idles[i][len(idles[i])/2]
		}
		fmt.Printf("%s: idle CPU %.2f ms/s (median of the rounds without a collection: %s); rounds with one: %d %v\n",
			s.name(), s.idle*1e3, strings.Join(all, " "), len(gcs[i]), gcs[i])
	}
	queries := filepath.Join(root, "small.txt")
	if err := os.WriteFile(queries, []byte("small."+origin+" A\n"), 0o644); err != nil {
		return err
	}
	for rep := 1; rep <= o.reps; rep++ {
		for _, ph := range o.phases {
			switch ph {
			case "query":
				for _, s := range servers {
					resume := only(s)
					q, err := s.query(o, queries, true)
					resume()
					if err != nil {
						return err
					}
					fmt.Printf("round %d query    %-10s %s\n", rep, s.name(), q)
				}
			case "register":
				for _, via := range o.via {
					for _, s := range servers {
						resume := only(s)
						r := s.register(o, via, o.duration)
						resume()
						fmt.Printf("round %d register %-10s via %-4s %s\n", rep, s.name(), via, r)
					}
				}
			case "mixed":
				for _, via := range o.via {
					for _, s := range servers {
						resume := only(s)
						var r regResult
						done := make(chan struct{})
						go func() { r = s.register(o, via, o.duration+2*time.Second); close(done) }()
						time.Sleep(time.Second)
						q, err := s.query(o, queries, false)
						<-done
						resume()
						if err != nil {
							return err
						}
						fmt.Printf("round %d mixed    %-10s via %-4s %s | registrations %s\n", rep, s.name(), via, q, r)
					}
				}
			default:
				return fmt.Errorf("unknown phase %q", ph)
			}
		}
	}
	for _, s := range servers {
		fmt.Printf("%s: %s\n", s.name(), gcSummary(s.proc.Log(), 0))
	}
	uptime()
	return nil
}

func uptime() {
	fmt.Printf("%s loadavg %s\n", time.Now().UTC().Format("15:04:05 UTC"), loadavg())
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	return "load " + strings.Join(f[:min(3, len(f))], " ")
}

// pin sets the CPUs of all of the server's threads.
func (s *server) pin(cpus string) error {
	out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(s.pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset %s: %v: %s", s.name(), err, out)
	}
	return nil
}

// prio sets the scheduling of all of the server's threads: SCHED_FIFO at
// prio, or the normal policy for 0.
func (s *server) prio(prio int) {
	args := []string{"-a", "-o", "-p", "0", strconv.Itoa(s.pid)}
	if prio > 0 {
		args = []string{"-a", "-f", "-p", strconv.Itoa(prio), strconv.Itoa(s.pid)}
	}
	if out, err := exec.Command("chrt", args...).CombinedOutput(); err != nil {
		fmt.Printf("chrt %s: %v: %s\n", s.name(), err, out)
	}
}

func (s *server) name() string {
	n := fmt.Sprintf("n=%d", s.n)
	if s.pools > 1 {
		n += fmt.Sprintf("/%dp", s.pools)
	}
	if s.gogc != "" {
		n += "/gogc=" + s.gogc
	}
	if s.gomaxprocs != "" {
		n += "/gmp=" + s.gomaxprocs
	}
	if s.tag != "" {
		n += "/" + s.tag
	}
	return n
}

// pool is the big pool element i lies in; label its label.
func (s *server) pool(i int) string { return fmt.Sprintf("big%d.%s", i%s.pools, origin) }
func label(i int) string            { return fmt.Sprintf("e%d", i) }

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(l.Addr().String())))
	if err != nil {
		return "", err
	}
	u.Close()
	return l.Addr().String(), nil
}

// prepare writes the zone, the configuration and the store.
func (s *server) prepare(like *server) error {
	var err error
	if s.dnsAt, err = freePort(); err != nil {
		return err
	}
	if s.httpAt, err = freePort(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(s.dir, "zones"), 0o755); err != nil {
		return err
	}
	var z strings.Builder
	fmt.Fprintf(&z, "$ORIGIN %s\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 127.0.0.1\n", origin)
	fmt.Fprintf(&z, "$POOL small policy=rr service=_http._tcp ttl=5 answers=3\n")
	for e := 1; e <= 10; e++ {
		fmt.Fprintf(&z, "small PE 192.0.2.%d:8080 weight=%d\n", e, e)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "zones", "bench.zone"), []byte(z.String()), 0o644); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`dns:
  listen: [%q]
http:
  listen: %q
  token: %q
zones: zones
zones_watch: false
data: data
log:
  format: json
tsig:
  - name: %s
    algorithm: hmac-sha256
    secret: %q
registration:
  max_per_key: 0
  max_per_pool: 0
  rate: 1000000
  burst: 1000000
`, s.dnsAt, s.httpAt, token, keyName, secret)
	if err := os.WriteFile(filepath.Join(s.dir, "poolnsd.yaml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	t0 := time.Now()
	if like != nil { // the same registrations: a copy of its store as it was written
		if out, err := exec.Command("cp", "-a", filepath.Join(like.dir, "data.orig"), filepath.Join(s.dir, "data")).CombinedOutput(); err != nil {
			return fmt.Errorf("copy the store of %s: %v: %s", like.name(), err, out)
		}
		fmt.Printf("%s: store copied from %s in %v\n", s.name(), like.name(), time.Since(t0).Round(time.Millisecond))
		return nil
	}
	st, err := store.Open(filepath.Join(s.dir, "data"))
	if err != nil {
		return err
	}
	defer st.Close()
	exp := time.Now().Add(2 * time.Hour)
	const chunk = 20000
	ws := make([]store.Write, 0, chunk)
	for i := 0; i < s.n; i++ {
		e := &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(label(i)),
			Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
			Port:  8080, Weight: 1, Expires: handlespace.ExpiryOf(exp), Lease: 2 * time.Hour, Owner: handlespace.OwnerOf("tsig:" + keyName), Home: st.RegistrarID()}
		ws = append(ws, store.Write{Pool: s.pool(i), Elem: e})
		if len(ws) == chunk || i == s.n-1 {
			if err := st.Commit(ws); err != nil {
				return err
			}
			ws = ws[:0]
		}
	}
	if err := st.Compact(); err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	// A copy for the servers with the same registrations (the server
	// changes its own).
	if out, err := exec.Command("cp", "-a", filepath.Join(s.dir, "data"), filepath.Join(s.dir, "data.orig")).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the store: %v: %s", err, out)
	}
	fmt.Printf("%s: store of %d registrations in %d pools written in %v\n", s.name(), s.n, s.pools, time.Since(t0).Round(time.Millisecond))
	return nil
}

func (s *server) start(o options) error {
	bin, err := filepath.Abs(s.bin)
	if err != nil {
		return err
	}
	cmd := exec.Command("taskset", "-c", o.serverCPU, bin, "serve", "--config", "poolnsd.yaml")
	cmd.Dir = s.dir
	gmp := o.gomaxprocs[0]
	if s.gomaxprocs != "" {
		gmp = s.gomaxprocs
	}
	// The sojourn histogram (query): a binary without the setting
	// warns that it ignores it.
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1", "GOMAXPROCS="+gmp, "POOLNSD_DNS_UDP_SOJOURN=true")
	cmd.Env = append(cmd.Env, o.env...)
	if s.gogc != "" {
		cmd.Env = append(cmd.Env, "GOGC="+s.gogc)
	}
	t0 := time.Now()
	if s.proc, err = proctest.Start(cmd, nil); err != nil {
		return err
	}
	s.pid = cmd.Process.Pid
	r, _, err := s.proc.Wait(0, 10*time.Minute, func(r proctest.Rec) bool { return r["msg"] == "ready" || r["level"] == "ERROR" })
	if err != nil {
		return fmt.Errorf("%s: no ready line: %v\n%s", s.name(), err, s.proc.Tail(20))
	}
	if r["msg"] != "ready" {
		return fmt.Errorf("%s: %v", s.name(), r)
	}
	took := time.Since(t0)
	fmt.Printf("%s: ready in %v (%v elements), CPU %.2f s, RSS %s; %s\n", s.name(), took.Round(time.Millisecond),
		r["elements"], s.cpu(), s.rss(), gcSummary(s.proc.Log(), 0))
	return nil
}

// cpu returns the server's CPU seconds so far: the sum over its threads
// of the scheduler's run time (/proc/PID/task/*/schedstat, nanoseconds).
// (utime + stime of /proc/PID/stat are sampled at the kernel's tick, 4 ms
// here, and a server that runs in bursts of microseconds between sleeps
// is charged whole ticks or none: not a measurement at these rates.) The
// run time of threads that have exited is lost; a Go program's threads do
// not exit while it serves.
func (s *server) cpu() float64 { return float64(s.schedstat(0)) / 1e9 }

// runDelay returns how long the server's threads have waited for a CPU
// while runnable, seconds (the second field of schedstat).
func (s *server) runDelay() float64 { return float64(s.schedstat(1)) / 1e9 }

// schedstat sums field i of the server's threads' schedstat files.
func (s *server) schedstat(i int) int64 {
	var n int64
	s.eachTask("schedstat", func(b []byte) {
		if f := strings.Fields(string(b)); len(f) > i {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			n += v
		}
	})
	return n
}

// involuntary returns the server's involuntary context switches so far
// (preempted by another task), summed over its threads.
func (s *server) involuntary() int {
	n := 0
	s.eachTask("status", func(b []byte) {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "nonvoluntary_ctxt_switches:"); ok {
				k, _ := strconv.Atoi(strings.TrimSpace(v))
				n += k
			}
		}
	})
	return n
}

// eachTask calls f with file of each of the server's threads
// (/proc/PID/task/TID/file); a thread that exited meanwhile is skipped.
func (s *server) eachTask(file string, f func([]byte)) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", s.pid))
	if err != nil {
		return
	}
	for _, t := range tasks {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/%s", s.pid, t.Name(), file)); err == nil {
			f(b)
		}
	}
}

// ticksCPU returns the server's utime + stime of /proc/PID/stat, seconds
// (see cpu for why this is not the figure reported).
func (s *server) ticksCPU() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		return 0
	}
	// The fields after the command's closing parenthesis.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // CLK_TCK
}

func (s *server) rss() string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func (s *server) idleCPU(d time.Duration) float64 {
	c0, t0 := s.cpu(), time.Now()
	time.Sleep(d)
	return (s.cpu() - c0) / time.Since(t0).Seconds()
}

// gcLine is a line of GODEBUG=gctrace=1:
// gc 7 @12.345s 3%: 0.011+52+0.004 ms clock, … 610->612->600 MB, 1200 MB goal, …
var gcLine = regexp.MustCompile(`^gc \d+ @[0-9.]+s \d+%: ([0-9.]+)\+([0-9.]+)\+([0-9.]+) ms clock, ([0-9.]+)\+([0-9.]+)/([0-9.]+)/([0-9.]+)\+([0-9.]+) ms cpu, (\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// gcStats sums GC cycles of gctrace.
type gcStats struct {
	n                            int
	markClock, maxClock, markCPU float64 // ms; markCPU: assist + background + idle
	live, goal                   float64 // MB, of the last cycle
}

// gcCycles sums the GC cycles logged from line from on.
func gcCycles(log string, from int) gcStats {
	lines := strings.Split(log, "\n")
	var g gcStats
	for _, l := range lines[min(from, len(lines)):] {
		m := gcLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		g.n++
		c, _ := strconv.ParseFloat(m[2], 64)
		g.markClock += c
		g.maxClock = max(g.maxClock, c)
		for _, k := range []int{5, 6, 7} {
			v, _ := strconv.ParseFloat(m[k], 64)
			g.markCPU += v
		}
		g.live, _ = strconv.ParseFloat(m[11], 64)
		g.goal, _ = strconv.ParseFloat(m[12], 64)
	}
	return g
}

func (g gcStats) String() string {
	if g.n == 0 {
		return "no GC cycle"
	}
	return fmt.Sprintf("%d GC cycles, mark %.0f ms clock (longest %.0f ms), %.0f ms CPU in all; live heap %.0f MB, goal %.0f MB",
		g.n, g.markClock, g.maxClock, g.markCPU, g.live, g.goal)
}

// gcSummary sums the GC cycles logged from line from on, as text.
func gcSummary(log string, from int) string { return gcCycles(log, from).String() }

// query measures the small pool's A answers with dnsperf: with closed,
// first a closed-loop run (20 clients, 200 queries outstanding: the server
// busy and its batches full) for the CPU per query; then an open-loop run
// at o.rate for the latencies. (The CPU per query at 20 000 q/s is mostly
// the cost of waking the server for each datagram or two, the same at any
// size of the handlespace: it does not show what a query costs.) Beside
// the latencies: how long the server's threads waited for a CPU while
// runnable (the kernel's run delay, /proc/PID/task/*/schedstat), which is
// the machine's share of the tail, not the server's.
func (s *server) query(o options, file string, closed bool) (string, error) {
	var b strings.Builder
	from := s.proc.Cursor()
	if closed {
		r, err := s.dnsperf(o, file, []string{"-c", "20", "-q", "200"})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "closed loop %.0f q/s CPU %.2f µs/q (ticks %.2f); ", r.qps, r.cpuPerQ(), r.ticksPerQ())
	}
	probe := make(chan string, 1)
	if o.probeBin != "" && o.duration > 2*time.Second {
		go func() { probe <- s.probe(o) }()
	} else {
		probe <- ""
	}
	soj0 := s.sojourns()
	r, err := s.dnsperf(o, file, []string{"-c", "16", "-q", "1000", "-Q", strconv.Itoa(o.rate), "-v"})
	soj := s.sojourns().minus(soj0)
	p := <-probe
	if err != nil {
		return "", err
	}
	slices.Sort(r.lat)
	pct := func(p float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
	}
	fmt.Fprintf(&b, "at %d q/s answered %d lost %d  p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms  CPU %.2f µs/q  run delay %.1f ms (%.2f%% of the run), %d involuntary switches  [%s]",
		o.rate, r.completed, r.lost, pct(0.5), pct(0.99), pct(0.999), pct(1), r.cpuPerQ(),
		r.wait*1e3, 100*r.wait/r.secs, r.nivcsw, gcSummary(s.proc.Log(), from))
	if soj.count() > 0 {
		fmt.Fprintf(&b, "  sojourn (%.0f) p50 %.3f p99 %.3f p99.9 %.3f ms, %.2f%% under 1 ms",
			soj.count(), soj.quantile(0.5)*1e3, soj.quantile(0.99)*1e3, soj.quantile(0.999)*1e3, 100*soj.under(1e-3))
	}
	if p != "" {
		fmt.Fprintf(&b, "  probe %s", p)
	}
	return b.String(), nil
}

// buckets are a histogram's cumulative bucket counts, by upper bound in
// seconds (the last +Inf), as /metrics gives them.
type buckets struct {
	le, n []float64
}

// sojourns reads the server's poolnsd_dns_udp_sojourn_seconds (the time
// from the kernel's receipt of a sampled query to its reply, in the
// server): the server's own latency, free of dnsperf's waits for its
// core. Empty if the server has none.
func (s *server) sojourns() buckets {
	var h buckets
	s.scrape(func(line string) {
		rest, ok := strings.CutPrefix(line, `poolnsd_dns_udp_sojourn_seconds_bucket{le="`)
		if !ok {
			return
		}
		le, v, ok := strings.Cut(rest, `"} `)
		if !ok {
			return
		}
		bound, err1 := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		n, err2 := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err1 == nil && err2 == nil {
			h.le, h.n = append(h.le, bound), append(h.n, n)
		}
	})
	return h
}

// minus returns h's counts less those of an earlier reading.
func (h buckets) minus(was buckets) buckets {
	if len(was.n) != len(h.n) {
		return h
	}
	d := buckets{le: h.le, n: make([]float64, len(h.n))}
	for i := range h.n {
		d.n[i] = h.n[i] - was.n[i]
	}
	return d
}

func (h buckets) count() float64 {
	if len(h.n) == 0 {
		return 0
	}
	return h.n[len(h.n)-1]
}

// quantile interpolates the q-quantile within its bucket, as Prometheus's
// histogram_quantile does (the lowest bucket from 0; the +Inf one gives
// the highest finite bound).
func (h buckets) quantile(q float64) float64 {
	want := q * h.count()
	for i, n := range h.n {
		if n < want {
			continue
		}
		if math.IsInf(h.le[i], 1) {
			return h.le[max(0, i-1)]
		}
		lo, below := 0.0, 0.0
		if i > 0 {
			lo, below = h.le[i-1], h.n[i-1]
		}
		if n == below {
			return h.le[i]
		}
		return lo + (h.le[i]-lo)*(want-below)/(n-below)
	}
	return 0
}

// under returns the share of the samples at most bound, a bucket's bound.
func (h buckets) under(bound float64) float64 {
	for i, le := range h.le {
		if le == bound && h.count() > 0 {
			return h.n[i] / h.count()
		}
	}
	return 0
}

// probe runs bench/udpprobe beside dnsperf's open-loop run: o.probeRate
// queries a second for the small pool's A, from half a second into the
// run to half a second before its end, each reply timed by the kernel's
// receive time (the server's latency, without dnsperf's own waits for its
// core; see bench/udpprobe). It returns the figures as text.
func (s *server) probe(o options) string {
	time.Sleep(500 * time.Millisecond)
	args := []string{"taskset", "-c", o.loadCPU, o.probeBin, "-server", s.dnsAt, "-qname", "small." + origin, "-qtype", "A",
		"-rate", strconv.Itoa(o.probeRate), "-duration", (o.duration - time.Second).String(), "-csv", "-cpu-of", strconv.Itoa(s.pid)}
	if o.probePrio > 0 {
		args = append([]string{"chrt", "-f", strconv.Itoa(o.probePrio)}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	f := strings.Split(strings.TrimSpace(string(out)), ",")
	if err != nil || len(f) < 9 {
		return fmt.Sprintf("failed: %v: %s", err, out)
	}
	line := fmt.Sprintf("sent %s lost %s server p50 %s p90 %s p99 %s p99.9 %s max %s ms (client p50 %s p99 %s)",
		f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8])
	if len(f) >= 15 {
		// In the server's CPU time: what its own work made of the wait
		// (udpprobe -cpu-of), free of its waits for a core.
		line += fmt.Sprintf(" server CPU (%s) p50 %s p99 %s p99.9 %s max %s ms", f[9], f[10], f[12], f[13], f[14])
	}
	return line
}

// perfRun is one dnsperf run's figures.
type perfRun struct {
	completed, lost int
	qps             float64
	lat             []float64 // ms, with -v
	cpu, ticks      float64   // the server's CPU seconds (schedstat, stat ticks)
	wait            float64   // seconds its threads waited for a CPU
	nivcsw          int       // its involuntary context switches
	secs            float64
}

func (r perfRun) cpuPerQ() float64   { return r.cpu / float64(max(1, r.completed)) * 1e6 }
func (r perfRun) ticksPerQ() float64 { return r.ticks / float64(max(1, r.completed)) * 1e6 }

// dnsperf runs dnsperf with args for o.duration against the server.
func (s *server) dnsperf(o options, file string, args []string) (perfRun, error) {
	host, port, _ := net.SplitHostPort(s.dnsAt)
	c0, k0, w0, v0, t0 := s.cpu(), s.ticksCPU(), s.runDelay(), s.involuntary(), time.Now()
	args = append([]string{"-c", o.loadCPU, "dnsperf", "-s", host, "-p", port, "-d", file,
		"-l", strconv.Itoa(int(o.duration.Seconds())), "-t", "2"}, args...)
	out, err := exec.Command("taskset", args...).Output()
	r := perfRun{cpu: s.cpu() - c0, ticks: s.ticksCPU() - k0, wait: s.runDelay() - w0, nivcsw: s.involuntary() - v0,
		secs: time.Since(t0).Seconds()}
	if err != nil && len(out) == 0 {
		return r, fmt.Errorf("dnsperf: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 5 && f[0] == ">" && f[1] == "NOERROR":
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			r.lat = append(r.lat, v*1e3)
		case len(f) >= 3 && f[0] == "Queries" && f[1] == "completed:":
			r.completed, _ = strconv.Atoi(f[2])
		case len(f) >= 3 && f[0] == "Queries" && f[1] == "lost:":
			r.lost, _ = strconv.Atoi(f[2])
		case len(f) >= 4 && f[0] == "Queries" && f[1] == "per" && f[2] == "second:":
			r.qps, _ = strconv.ParseFloat(f[3], 64)
		}
	}
	return r, nil
}

type regResult struct {
	ok, failed, missed int64
	lat                []time.Duration
	cpu, idle          float64
	secs               float64
	alloc              float64 // bytes the server allocated in the run
	gc                 gcStats // the server's GC cycles in the run
	heap               gcStats // the last cycle before or in the run: its live heap and cost, for the projection
	gogc               float64 // the server's GOGC, for the projection
	err                error
}

func (r regResult) String() string {
	slices.Sort(r.lat)
	pct := func(p float64) time.Duration {
		if len(r.lat) == 0 {
			return 0
		}
		return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
	}
	per := 0.0
	if r.ok > 0 {
		per = r.cpu / float64(r.ok) * 1e6
	}
	s := fmt.Sprintf("acked %d (%.0f/s) failed %d missed %d  p50 %v p99 %v  CPU %.0f µs/registration (idle: %.0f)",
		r.ok, float64(r.ok)/r.secs, r.failed, r.missed, pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), per,
		r.idle*1e6/max(1, float64(r.ok)/r.secs))
	if r.ok > 0 && r.alloc > 0 {
		s += fmt.Sprintf(", allocated %.1f KB/registration", r.alloc/float64(r.ok)/1e3)
	}
	s += "; " + r.gcShare()
	if r.err != nil {
		s += fmt.Sprintf(" (first error: %v)", r.err)
	}
	return s
}

// gcShare is the collector's share of the run: the collections in it,
// their mark phases' clock and CPU against the run's length and the
// server's CPU; and, since a run of a minute at 1 000 000 elements holds
// one or two collections, their share at the natural rate: the bytes
// allocated a second over the heap's growth to its next goal (the live
// heap of the last cycle × GOGC/100; gctrace's goal is the cycle's own,
// set by the cycle before) are the collections a second, each costing
// the run's mean mark clock and CPU (the last cycle's before the run when
// it had none). (A heap of a few MB collects more often than that: the
// runtime's goal is 4 MB at least.)
func (r regResult) gcShare() string {
	s := fmt.Sprintf("GC in the run: %d collections, mark %.0f ms clock (%.2f%% of the run), %.0f ms CPU (%.2f%% of the server's)",
		r.gc.n, r.gc.markClock, 100*r.gc.markClock/1e3/r.secs, r.gc.markCPU, 100*r.gc.markCPU/1e3/max(r.cpu, 1e-9))
	per, growth := r.gc, r.heap.live*r.gogc/100
	if per.n == 0 {
		per = r.heap
	}
	if per.n > 0 && growth > 0 && r.alloc > 0 {
		rate := r.alloc / r.secs / (growth * 1e6) // collections a second
		clock, cpu := per.markClock/float64(per.n), per.markCPU/float64(per.n)
		s += fmt.Sprintf("; at the natural rate (%.0f MB/s allocated, growth %.0f MB): a collection every %.1f s, mark %.2f%% of the clock, GC CPU %.2f ms/s",
			r.alloc/r.secs/1e6, growth, 1/rate, 100*rate*clock/1e3, rate*cpu)
	}
	return s
}

// gcLast is the last GC cycle logged (n 0: none).
func gcLast(log string) gcStats {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if gcLine.MatchString(lines[i]) {
			return gcCycles(lines[i], 0)
		}
	}
	return gcStats{}
}

// register sends o.regRate registrations a second for d, refreshes of
// random registered elements each with a new load.
func (s *server) register(o options, via string, d time.Duration) regResult {
	tokens := make(chan struct{}, o.regRate) // a second's worth at most
	var (
		res    regResult
		ok     atomic.Int64
		failed atomic.Int64
		missed atomic.Int64
		mu     sync.Mutex
		first  atomic.Pointer[error]
		wg     sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.workers}, Timeout: 10 * time.Second}
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var udp net.Conn
			if via == "dns" {
				var err error
				if udp, err = net.Dial("udp", s.dnsAt); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
				defer udp.Close()
			}
			var mine []time.Duration
			for range tokens {
				i := rng.IntN(s.n)
				load := rng.IntN(100)
				t0 := time.Now()
				var err error
				if via == "dns" {
					err = s.updateDNS(udp, i, load)
				} else {
					err = s.updateHTTP(client, i, load)
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, &err)
					continue
				}
				ok.Add(1)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, mine...)
			mu.Unlock()
		}(w)
	}
	if o.perf != "" {
		out := filepath.Join(o.perf, fmt.Sprintf("%s-%s-%d.data", strings.ReplaceAll(s.name(), "/", "-"), via, time.Now().Unix()))
		rec := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(s.pid), "-o", out, "--", "sleep", strconv.Itoa(int(d.Seconds())))
		if err := rec.Start(); err == nil {
			defer rec.Wait()
		}
	}
	a0 := s.allocated()
	from := s.proc.Cursor()
	c0, t0 := s.cpu(), time.Now()
	// Pace by the clock: by time t, t × rate tokens were due.
	sent := 0
	tick := time.NewTicker(time.Millisecond)
	for now := range tick.C {
		el := now.Sub(t0)
		if el >= d {
			break
		}
		due := int(el.Seconds() * float64(o.regRate))
		for ; sent < due; sent++ {
			select {
			case tokens <- struct{}{}:
			default:
				missed.Add(1)
			}
		}
	}
	tick.Stop()
	close(tokens)
	wg.Wait()
	res.cpu, res.secs, res.idle = s.cpu()-c0, time.Since(t0).Seconds(), s.idle
	if a0 >= 0 {
		if a1 := s.allocated(); a1 >= a0 {
			res.alloc = a1 - a0
		}
	}
	res.gc = gcCycles(s.proc.Log(), from)
	res.heap = gcLast(s.proc.Log())
	res.gogc = 200 // poolnsd's default (cmd/poolnsd/gc.go)
	gogc := s.gogc
	for _, e := range o.env {
		if v, ok := strings.CutPrefix(e, "GOGC="); ok && gogc == "" {
			gogc = v
		}
	}
	if g, err := strconv.ParseFloat(gogc, 64); err == nil {
		res.gogc = g
	}
	res.ok, res.failed, res.missed = ok.Load(), failed.Load(), missed.Load()
	if e := first.Load(); e != nil {
		res.err = *e
	}
	client.CloseIdleConnections()
	return res
}

// allocated returns the bytes the server has allocated since it started
// (go_memstats_alloc_bytes_total of its /metrics), -1 if unknown: with the
// live heap and a collection's CPU (gctrace), what a registration costs
// in collections at a given GOGC, amortised, which a run of a few
// seconds at 1 000 000 elements (one collection every tens of seconds)
// cannot show by itself.
func (s *server) allocated() float64 {
	got := -1.0
	s.scrape(func(line string) {
		if v, ok := strings.CutPrefix(line, "go_memstats_alloc_bytes_total "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				got = f
			}
		}
	})
	return got
}

// scrape calls f with each line of the server's /metrics (none if it
// cannot be read).
func (s *server) scrape(f func(line string)) {
	resp, err := http.Get("http://" + s.httpAt + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f(sc.Text())
	}
}

func (s *server) updateDNS(udp net.Conn, i, load int) error {
	name := label(i) + "." + s.pool(i)
	m := new(dns.Msg)
	m.SetUpdate(origin)
	srv := &dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60},
		Port: 8080, Weight: 1, Target: name}
	a := &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
		A: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))}
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
		Txt: []string{fmt.Sprintf("load=%d%%", load)}}
	m.Insert([]dns.RR{srv, a, txt})
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: 7200})
	m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
	// A dns.Conn per exchange: a Conn chains TSIG MACs from one message
	// to the next, which independent updates must not.
	conn := &dns.Conn{Conn: udp, TsigSecret: map[string]string{keyName: secret}}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMsg(m); err != nil {
		return err
	}
	for {
		r, err := conn.ReadMsg()
		if err != nil {
			return err
		}
		if r.Id != m.Id { // a late reply to an earlier, timed-out update
			continue
		}
		if r.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("UPDATE: %s", dns.RcodeToString[r.Rcode])
		}
		return nil
	}
}

func (s *server) updateHTTP(c *http.Client, i, load int) error {
	body := fmt.Sprintf(`{"addresses":["10.%d.%d.%d"],"port":8080,"weight":1,"load":%.2f,"lease":7200}`,
		byte(i>>16), byte(i>>8), byte(i), float64(load)/100)
	url := fmt.Sprintf("http://%s/v1/pools/%s/elements/%s", s.httpAt, s.pool(i), label(i))
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return errors.New("PUT: " + resp.Status + ": " + strings.TrimSpace(string(b)))
	}
	return nil
}
