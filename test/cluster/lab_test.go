package cluster

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/netlab"
)

// The lab: three sites, five registrars, six backend hosts, 1 000
// zone-file elements in 50 pools of 20, and a pool for registrations.
const (
	nPools      = 50
	perPool     = 20
	nElements   = nPools * perPool
	backendPort = 80
	zoneOrigin  = "pool.example."
	dynPool     = "dyn." + zoneOrigin
)

// Probe settings of every pool, and the peering timers.
const (
	probeInterval = time.Second
	probeTimeout  = 800 * time.Millisecond
	probeRise     = 2
	probeFall     = 2
	presence      = 500 * time.Millisecond
	lastHeard     = 1500 * time.Millisecond
	noResponse    = 600 * time.Millisecond
)

// sites and their one-way delays: 1 ms inside a site, 40 ms between s1
// and s2, 150 ms between s3 and either.
var sites = []string{"s1", "s2", "s3"}

func delay(a, b string) time.Duration {
	switch {
	case a == b:
		return time.Millisecond
	case a == "s3" || b == "s3":
		return 150 * time.Millisecond
	default:
		return 40 * time.Millisecond
	}
}

// maxDelay is the longest one-way delay.
const maxDelay = 150 * time.Millisecond

// registrar placement: two in s1, two in s2, one in s3; backends: two
// hosts per site.
var (
	regSites     = []struct{ name, site string }{{"r1", "s1"}, {"r2", "s1"}, {"r3", "s2"}, {"r4", "s2"}, {"r5", "s3"}}
	backendSites = []struct{ name, site string }{{"b1a", "s1"}, {"b1b", "s1"}, {"b2a", "s2"}, {"b2b", "s2"}, {"b3a", "s3"}, {"b3b", "s3"}}
)

// bounds are the checker's bounds for these settings (see
// netlab.Bounds):
//
//   - Detect: the first failed probe comes within an interval, the fall-th
//     (fall-1) × ConfirmDelay after the one before failed (4 × SRTT, at
//     most an interval), a frozen element costs a timeout for each (a
//     near one's second probe goes beside the first, ConfirmDelay after
//     it, but one 300 ms away from its home, in another site, gets
//     ConfirmDelay 1 s: no overlap), the other vantage points are asked at
//     the first failure (their answers come while the second probe runs),
//     and the home tells the farthest registrar 150 ms later;
//     2 × 1 s + 2 × 0.8 s + 0.15 s = 3.75 s, taken as 4.25 s.
//   - Takeover: a silent peer is asked after max_time_last_heard (1.5 s)
//     and dead max_time_no_response (0.6 s) later; its elements' new homes
//     probe each within an interval: 3.1 s, taken as 4 s.
//   - Rise: a dead element's probes back off to at most 5 s apart; once
//     revived, one probe to come, rise-1 more an interval later, 0.15 s to
//     the farthest: 6.95 s, taken as 8 s.
//   - Propagate: a registration's first probe, then 150 ms to the
//     farthest: taken as 2 s.
//   - Heal: a deregistration made on one side of a partition, whose
//     DEL_PE to the other side was lost, must be carried by the heal as
//     soon as all agree: two presence intervals (convergeBound).
var bounds = netlab.Bounds{
	Detect:    4250 * time.Millisecond,
	Takeover:  4 * time.Second,
	Rise:      8 * time.Second,
	Propagate: 2 * time.Second,
	Heal:      2 * presence,
}

// lab is one built cluster.
type lab struct {
	net      *netlab.Net
	cluster  *netlab.Cluster
	backends *netlab.Backends
	regs     map[string]*netlab.Registrar
	pools    []netlab.Pool
	dyn      netlab.Pool
	checker  *netlab.Checker
	seed     uint64
	built    time.Duration     // to build and settle
	relay    netlab.RelayStats // while the checker ran
}

// elementAddr is zone element j's address: in backend host j%6's block,
// host number j/6+1 (1..167).
func elementAddr(blocks []netip.Prefix, j int) netip.Addr {
	b := blocks[j%len(blocks)].Addr().As4()
	b[3] = byte(j/len(blocks) + 1)
	return netip.AddrFrom4(b)
}

// zoneText is the zone of the lab.
func zoneText(pools []netlab.Pool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n", zoneOrigin)
	probe := fmt.Sprintf("probe=http:/ interval=%v timeout=%v rise=%d fall=%d", probeInterval, probeTimeout, probeRise, probeFall)
	for _, p := range pools {
		handle := strings.TrimSuffix(p.Name, "."+zoneOrigin)
		fmt.Fprintf(&b, "\n$POOL %s policy=rr ttl=1 answers=%d %s\n", handle, perPool, probe)
		for _, a := range p.Elems {
			fmt.Fprintf(&b, "%s PE %s:%d\n", handle, a, backendPort)
		}
	}
	fmt.Fprintf(&b, "\n; registrations\n$POOL dyn policy=rr ttl=1 answers=60 %s\n", probe)
	return b.String()
}

// labOpts vary the lab.
type labOpts struct {
	// deregister is the checker's share of deregistrations (see
	// netlab.CheckerConfig.Deregister).
	deregister float64
}

// churn is the usual share of deregistrations: four in ten changes.
const churn = 0.4

// newLab builds the network, the backends and the registrars, starts
// them, and waits until every registrar serves every element and all
// agree; the checker is made but not started.
func newLab(t *testing.T, opts labOpts) *lab {
	t.Helper()
	if unavailable != "" {
		netlab.Unavailable(t, unavailable)
	}
	start := time.Now()
	l := &lab{regs: map[string]*netlab.Registrar{}}
	l.seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("NETLAB_SEED"); s != "" {
		fmt.Sscan(s, &l.seed)
	}
	t.Logf("seed %d (NETLAB_SEED=%d replays the checker's choices); registrars at real-time priority: %t (NETLAB_RT)", l.seed, l.seed, os.Getenv("NETLAB_RT") == "1")
	l.net = netlab.New(t, netlab.Config{Sites: sites, Delay: delay, LabBinary: labd})
	if dir := os.Getenv("NETLAB_CAPTURE"); dir != "" {
		// The peering and the ARP exchanges, for a look at what a fault
		// does to them (tshark -r FILE).
		path, err := l.net.Capture(t, dir, fmt.Sprintf("arp or tcp port %d", netlab.ENRPPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("capturing the peering and ARP on the hub's bridge into %s", path)
	}
	l.backends = netlab.NewBackends(l.net)
	var blocks []netip.Prefix
	for _, bs := range backendSites {
		nd, err := l.net.AddNode(bs.name, bs.site)
		if err != nil {
			t.Fatal(err)
		}
		blk, err := nd.AddBlock()
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, blk)
		if err := l.backends.Serve(nd, backendPort); err != nil {
			t.Fatal(err)
		}
	}
	for p := 0; p < nPools; p++ {
		pool := netlab.Pool{Name: fmt.Sprintf("p%02d.%s", p, zoneOrigin)}
		for k := 0; k < perPool; k++ {
			pool.Elems = append(pool.Elems, elementAddr(blocks, p*perPool+k))
		}
		l.pools = append(l.pools, pool)
	}
	// Registrations use hosts 200..254 of each block.
	l.dyn = netlab.Pool{Name: dynPool}
	for h := 200; h <= 254; h++ {
		for _, blk := range blocks {
			b := blk.Addr().As4()
			b[3] = byte(h)
			l.dyn.Elems = append(l.dyn.Elems, netip.AddrFrom4(b))
		}
	}
	logDir := os.Getenv("NETLAB_LOGS")
	if logDir != "" {
		logDir = filepath.Join(logDir, t.Name())
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var nodes []*netlab.Node
	for _, rs := range regSites {
		nd, err := l.net.AddNode(rs.name, rs.site)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
	}
	l.cluster = netlab.NewCluster(t, nodes, netlab.ClusterConfig{
		Binary:     binary,
		Zones:      map[string]string{"pool.example.zone": zoneText(l.pools)},
		Presence:   presence,
		LastHeard:  lastHeard,
		NoResponse: noResponse,
		Extra:      "probe:\n  workers: 256\n",
		LogDir:     logDir,
		LogLevel:   os.Getenv("NETLAB_LOGLEVEL"),
		RealTime:   os.Getenv("NETLAB_RT") == "1",
	})
	for _, r := range l.cluster.Regs {
		l.regs[r.Name] = r
	}
	if err := l.cluster.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.cluster.WaitServing(l.pools, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	l.checker = netlab.NewChecker(netlab.CheckerConfig{
		Cluster:           l.cluster,
		Backends:          l.backends,
		Pools:             l.pools,
		Dyn:               l.dyn,
		DynPort:           backendPort,
		Interval:          50 * time.Millisecond,
		Bounds:            bounds,
		RegisterEvery:     250 * time.Millisecond,
		MaxDyn:            40,
		Lease:             time.Hour,
		Deregister:        opts.deregister,
		ElementFaultEvery: time.Second,
		MaxDead:           4,
		DeadFor:           4 * time.Second,
		Seed:              l.seed,
	})
	if _, _, err := l.checker.Converge(time.Now(), 20*time.Second); err != nil {
		t.Fatalf("the registrars do not agree after starting: %v", err)
	}
	l.built = time.Since(start)
	t.Logf("lab built and settled in %v: %s", l.built.Round(time.Millisecond), l.net.Name())
	return l
}

// run starts the checker; its report is logged (and the assertions made
// by the caller) after finish.
func (l *lab) run(t *testing.T) {
	t.Helper()
	t.Logf("relay (real-time priority: %t) while the lab was built: %v", l.net.Relay().RealTime(), l.net.Relay().Mark())
	if err := l.checker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.checker.Stop)
}

// steady lets the checker run for d with nothing injected: a fault stands
// for a set time, the scenario's schedule (no wait for a condition).
func (l *lab) steady(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// takeover measures how long after at the elements that r probed in the
// two seconds before at were first probed by another registrar; it
// returns the longest, the median and the number of elements. Left out:
// registrations that r acknowledged within the propagation bound before
// at (the others may never have heard of them), and those deregistered
// meanwhile.
func (l *lab) takeover(t *testing.T, r *netlab.Registrar, at time.Time, limit time.Duration) (longest, median time.Duration, n int) {
	t.Helper()
	var elems []netip.Addr
	probed, err := l.backends.ProbedBy(r.Node.Addr, at.Add(-2*time.Second), at)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range probed {
		by, regAt, reg := l.checker.Registration(a)
		if l.checker.Standing(a) && !(reg && by == r && at.Sub(regAt) < bounds.Propagate) {
			elems = append(elems, a)
		}
	}
	if len(elems) == 0 {
		t.Fatalf("%s probed nothing in the two seconds before %v", r.Name, at.Format("15:04:05.000"))
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var standing []netip.Addr
		for _, a := range elems {
			if l.checker.Standing(a) {
				standing = append(standing, a)
			}
		}
		took, missing, err := l.backends.Takeover(standing, r.Node.Addr, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) == 0 {
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			return took[len(took)-1], took[len(took)/2], len(standing)
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Errorf("%d of the %d elements %s probed were not probed by anyone else within %v of %v (e.g. %v)",
				len(missing), len(standing), r.Name, limit, at.Format("15:04:05.000"), missing[:min(5, len(missing))])
			return limit, 0, len(standing)
		}
	}
}

// converge pauses the workloads (their faults held as they are: see
// netlab.Checker.Pause), measures how long after since all running
// registrars agree, but for the health of the elements the workload set
// moving within its bounds (netlab.Checker.Converge; failing t past
// limit, and waiting up to 30 s more to measure it) and resumes them.
func (l *lab) converge(t *testing.T, what string, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	l.checker.Pause()
	defer l.checker.Resume()
	d, res, err := l.checker.Converge(since, limit+30*time.Second)
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return -1
	}
	t.Logf("%s: all running registrars agree %v after (at most; a round of digests took %v)", what, d.Round(time.Millisecond), res.Round(time.Millisecond))
	if tr := l.checker.ConvergeTrail(); d <= limit && len(tr) > 0 && os.Getenv("NETLAB_VERBOSE") == "1" {
		t.Logf("%s: the rounds before:\n  %s", what, strings.Join(tr, "\n  "))
	}
	if d > limit {
		t.Errorf("%s: the registrars agreed only %v after, bound %v; the rounds before:\n  %s", what, d.Round(time.Millisecond), limit,
			strings.Join(l.checker.ConvergeTrail(), "\n  "))
	}
	return d
}

// finish stops the checker, checks the registrations at every running
// registrar, logs the report and returns it.
func (l *lab) finish(t *testing.T) netlab.Report {
	t.Helper()
	l.checker.Stop()
	return l.report(t)
}

// report checks the registrations at every running registrar, logs the
// report and returns it (the checker stopped).
func (l *lab) report(t *testing.T) netlab.Report {
	t.Helper()
	n := l.checker.VerifyRegistrations(10*time.Second, nil)
	rp := l.checker.Report()
	t.Logf("checker: %s", rp.Summary())
	t.Logf("per registrar:\n  %s", strings.Join(l.checker.PerRegistrar(), "\n  "))
	t.Logf("%d acknowledged registrations and deregistrations checked at every running registrar", n)
	l.relay = l.net.Relay().Mark()
	t.Logf("relay while the checker ran: %v", l.relay)
	if os.Getenv("NETLAB_VERBOSE") == "1" || rp.Violations[netlab.VLostRegistration] > 0 {
		t.Logf("the registrations:\n  %s", strings.Join(l.checker.Actions(), "\n  "))
	}
	return rp
}

// logGaps logs the gap episodes that started in [from, to), one a line
// (the first 40).
func (l *lab) logGaps(t *testing.T, from, to time.Time) {
	t.Helper()
	if gs := l.checker.GapList(from, to, 40); len(gs) > 0 {
		t.Logf("the gaps:\n  %s", strings.Join(gs, "\n  "))
	}
}

// long skips t unless NETLAB_LONG=1 (make test-cluster).
func long(t *testing.T) {
	t.Helper()
	if os.Getenv("NETLAB_LONG") != "1" {
		t.Skip("a long scenario: make test-cluster (NETLAB_LONG=1) runs it")
	}
}

// result logs one row of the results table (bench/RESULTS.md): the
// scenario, the takeover and convergence figures ("-" where they do not
// apply), the gaps and false removals of the whole run, and the
// violations.
func (l *lab) result(t *testing.T, scenario, takeover, convergence string, rp netlab.Report) {
	t.Helper()
	var vs []string
	for k, n := range rp.Violations {
		vs = append(vs, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(vs)
	if len(vs) == 0 {
		vs = []string{"none"}
	}
	gaps := "none"
	if rp.Gaps > 0 {
		gaps = fmt.Sprintf("%d (%d answers), longest %v", rp.Gaps, rp.Lacking, rp.LongestGap.Round(time.Millisecond))
	}
	held := "none"
	if rp.Held > 0 {
		held = fmt.Sprintf("%d answers in %d episodes, longest %v (%s)", rp.Held, rp.Holds, rp.LongestHold.Round(time.Millisecond), rp.LongestHoldOf)
	}
	t.Logf("RESULT | %s | %s | %s | %s | %s | %d | %s | %d answers, %d unanswered; relay late >100 ms: %d of %d packets |",
		scenario, takeover, convergence, gaps, held, rp.FalseRemovals, strings.Join(vs, ", "), rp.Answers, rp.Unanswered, l.relay.Late100, l.relay.Relayed)
}

// dur formats a measured duration for the table.
func dur(d time.Duration) string {
	if d < 0 {
		return "not reached"
	}
	return d.Round(10 * time.Millisecond).String()
}
