// Command handoff measures the planned hand-off: how long a poolnsd that
// is home of 100 000 registrations takes from SIGTERM to its exit while
// it hands them to its two peers (enrp.handoff_timeout 2 s), against the
// same stop without a hand-off (enrp.handoff_timeout 0s), interleaved.
//
// Each trial writes the registrations straight into registrar A's store
// (its own, by its registrar ID: as if it had accepted them), starts B
// and C, then A, waits until B and C hold all of A's registrations (the
// first handle table transfer), and sends A SIGTERM. The figures: SIGTERM
// to exit (A's process gone), the hand-off as A logs it, and, after the
// stop, whether B and C own every registration (the sum of their
// poolnsd_elements_owned) and whether either took anything over.
//
// Three real poolnsd on 127.0.0.1–3 (plain TCP peering on port 9461, DNS
// on 5430, HTTP on 8430); nothing leaves loopback.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
	"github.com/poolnsd/poolnsd/store"
)

var (
	bin      = flag.String("poolnsd", "bin/poolnsd", "poolnsd binary")
	count    = flag.Int("elements", 100000, "registrations A is home of")
	perPool  = flag.Int("per-pool", 1000, "registrations per pool")
	trials   = flag.Int("trials", 3, "trials of each mode, interleaved")
	keepLogs = flag.String("logs", "", "directory to keep the registrars' logs in")
	dnsPort  = flag.Int("dns-port", 5430, "DNS port on 127.0.0.1-3")
	httpPort = flag.Int("http-port", 8430, "HTTP port on 127.0.0.1-3")
	enrpPort = flag.Int("enrp-port", 9461, "ENRP port on 127.0.0.1-3")
	perfDir  = flag.String("perf", "", "directory for perf record profiles (cpu-clock, call graphs) of A, B and C from SIGTERM until B and C own everything, hand-off trials only")
)

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "handoff: "+format+"\n", a...)
	os.Exit(1)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

const zone = `$ORIGIN bench.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 5
@ NS ns1
ns1 A 127.0.0.1
`

type registrar struct {
	name, ip string
	dir      string
	p        *proctest.Proc
	logf     *os.File
}

func newRegistrar(name, ip string, handoff string) *registrar {
	dir, err := os.MkdirTemp("", "poolnsd-handoff-"+name+"-")
	if err != nil {
		fatalf("%v", err)
	}
	os.MkdirAll(filepath.Join(dir, "zones"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "zones", "bench.zone"), []byte(zone), 0o644); err != nil {
		fatalf("%v", err)
	}
	var peers []string
	for i := 1; i <= 3; i++ {
		if a := fmt.Sprintf("127.0.0.%d", i); a != ip {
			peers = append(peers, fmt.Sprintf("%q", fmt.Sprintf("%s:%d", a, *enrpPort)))
		}
	}
	cfg := fmt.Sprintf(`dns:
  listen: ["%s:%d"]
  udp_sockets: 1
http:
  listen: "%s:%d"
zones: %s
zones_watch: false
data: %s
log:
  format: json
registration:
  max_per_pool: 0
  max_per_key: 0
enrp:
  listen: "%s:%d"
  peers: [%s]
  insecure: true
  handoff_timeout: %s
`, ip, *dnsPort, ip, *httpPort, filepath.Join(dir, "zones"), filepath.Join(dir, "data"), ip, *enrpPort, strings.Join(peers, ", "), handoff)
	if err := os.WriteFile(filepath.Join(dir, "poolnsd.yaml"), []byte(cfg), 0o644); err != nil {
		fatalf("%v", err)
	}
	return &registrar{name: name, ip: ip, dir: dir}
}

func (r *registrar) start(tag string) {
	cmd := exec.Command(*bin, "serve", "--config", filepath.Join(r.dir, "poolnsd.yaml"))
	var tee io.Writer
	if *keepLogs != "" {
		os.MkdirAll(*keepLogs, 0o755)
		r.logf, _ = os.Create(filepath.Join(*keepLogs, tag+"-"+r.name+".log"))
		tee = r.logf
	}
	p, err := proctest.Start(cmd, tee)
	if err != nil {
		fatalf("start %s: %v", r.name, err)
	}
	r.p = p
	if _, _, err := p.Wait(0, 60*time.Second, proctest.MsgIs("ready")); err != nil {
		fatalf("%s did not get ready: %v\n%s", r.name, err, p.Tail(20))
	}
}

func (r *registrar) stop() {
	if r.p != nil {
		r.p.Stop(syscall.SIGKILL, 10*time.Second)
	}
	if r.logf != nil {
		r.logf.Close()
	}
	os.RemoveAll(r.dir)
}

// owned returns the registrar's poolnsd_elements_owned and
// poolnsd_elements (every health).
func (r *registrar) owned() (owned, elements float64) {
	s, _, err := metricstest.Scrape(http.DefaultClient, fmt.Sprintf("http://%s:%d/metrics", r.ip, *httpPort))
	if err != nil {
		fatalf("scrape %s: %v", r.name, err)
	}
	owned, _ = s.Value("poolnsd_elements_owned")
	return owned, s.Sum("poolnsd_elements")
}

// fill writes n registrations homed at A into A's store.
func fill(dir string, n int) uint32 {
	st, err := store.Open(filepath.Join(dir, "data"))
	if err != nil {
		fatalf("%v", err)
	}
	defer st.Close()
	id := st.RegistrarID()
	exp := time.Now().Add(2 * time.Hour)
	var ops []store.Write
	for i := 0; i < n; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		e := &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(a), Port: 80,
			Weight: 1, Health: handlespace.HealthUp, Home: id, Owner: handlespace.OwnerOf("http"), Expires: handlespace.ExpiryOf(exp), Lease: 2 * time.Hour}
		ops = append(ops, store.Write{Pool: fmt.Sprintf("p%d.bench.test.", i / *perPool), Elem: e})
		if len(ops) == 10000 {
			if err := st.Commit(ops); err != nil {
				fatalf("%v", err)
			}
			ops = ops[:0]
		}
	}
	if err := st.Commit(ops); err != nil {
		fatalf("%v", err)
	}
	return id
}

// trial runs one stop of A with 100 000 registrations; handoff is
// enrp.handoff_timeout ("2s", or "0s" for none).
func trial(i int, handoff string) string {
	tag := fmt.Sprintf("trial%d-%s", i, handoff)
	a := newRegistrar("a", "127.0.0.1", handoff)
	b := newRegistrar("b", "127.0.0.2", handoff)
	c := newRegistrar("c", "127.0.0.3", handoff)
	defer func() {
		for _, r := range []*registrar{a, b, c} {
			r.stop()
		}
	}()
	fill(a.dir, *count)
	b.start(tag)
	c.start(tag)
	a.start(tag)
	deadline := time.Now().Add(120 * time.Second)
	for _, r := range []*registrar{b, c} {
		for {
			if _, n := r.owned(); int(n) >= *count {
				break
			}
			if time.Now().After(deadline) {
				fatalf("%s did not get A's %d registrations", r.name, *count)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ownedA, _ := a.owned()
	time.Sleep(time.Second) // let the first transfers' aftermath settle
	cb, cc := b.p.Cursor(), c.p.Cursor()
	cpuA0, cpuB0, cpuC0 := cpuOf(a.p.Cmd.Process.Pid), cpuOf(b.p.Cmd.Process.Pid), cpuOf(c.p.Cmd.Process.Pid)
	var perfs []*exec.Cmd
	if *perfDir != "" && handoff != "0s" {
		os.MkdirAll(*perfDir, 0o755)
		for _, r := range []*registrar{a, b, c} {
			pc := exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-g", "-p", fmt.Sprint(r.p.Cmd.Process.Pid),
				"-o", filepath.Join(*perfDir, tag+"-"+r.name+".data"))
			if err := pc.Start(); err != nil {
				fatalf("perf: %v", err)
			}
			perfs = append(perfs, pc)
		}
		time.Sleep(300 * time.Millisecond) // perf attaches
	}
	t0 := time.Now()
	a.p.Cmd.Process.Signal(syscall.SIGTERM)
	code, err := a.p.WaitExit(30 * time.Second)
	took := time.Since(t0)
	if err != nil {
		fatalf("A did not exit: %v", err)
	}
	ru := a.p.Cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpuA := time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) - cpuA0
	proc := a.p
	a.p = nil
	handed := "-"
	if r, _, err := proc.Wait(0, time.Second, proctest.MsgIs("handed off")); err == nil {
		handed = r.Str("took")
	}
	if r, _, err := proc.Wait(0, time.Second, proctest.MsgIs("stopped")); err == nil {
		if ts, err := time.Parse(time.RFC3339Nano, r.Str("time")); err == nil {
			fmt.Printf("trial %d %s: A logged \"stopped\" %v after SIGTERM\n", i, handoff, ts.Sub(t0).Round(time.Millisecond))
		}
	}
	// B and C own everything, at once with a hand-off (after the
	// takeover without).
	var sum float64
	var owner string
	wait := 500 * time.Millisecond
	if handoff == "0s" {
		wait = 10 * time.Second
	}
	end := time.Now().Add(wait)
	for {
		ob, _ := b.owned()
		oc, _ := c.owned()
		sum = ob + oc
		owner = fmt.Sprintf("B %.0f + C %.0f", ob, oc)
		if int(sum) >= *count || time.Now().After(end) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cpuB, cpuC := cpuOf(b.p.Cmd.Process.Pid)-cpuB0, cpuOf(c.p.Cmd.Process.Pid)-cpuC0
	for _, pc := range perfs {
		pc.Process.Signal(syscall.SIGINT)
		pc.Wait()
	}
	takeover := false
	for _, x := range []struct {
		r    *registrar
		from int
	}{{b, cb}, {c, cc}} {
		for _, rec := range x.r.p.Records(x.from, x.r.p.Cursor()) {
			if rec != nil && rec.Str("event") == "takeover-start" {
				takeover = true
			}
		}
	}
	line := fmt.Sprintf("| %s | %d | %.0f | %v | %s | %v | %v / %v | %d | %s | %v |", map[string]string{"2s": "hand-off", "0s": "none (handoff_timeout 0s)"}[handoff],
		*count, ownedA, took.Round(time.Millisecond), handed, cpuA.Round(time.Millisecond), cpuB.Round(time.Millisecond), cpuC.Round(time.Millisecond), code, owner, takeover)
	fmt.Printf("trial %d %-8s A owned %.0f; SIGTERM to exit %v (hand-off %s, exit %d; CPU A %v, B %v, C %v till then); then %s own %v of them; takeover %v; load %s\n",
		i, handoff, ownedA, took.Round(time.Millisecond), handed, code, cpuA.Round(time.Millisecond), cpuB.Round(time.Millisecond), cpuC.Round(time.Millisecond), owner, sum, takeover, loadavg())
	return line
}

func main() {
	flag.Parse()
	if _, err := os.Stat(*bin); err != nil {
		fatalf("poolnsd binary %s: %v (build it with make build)", *bin, err)
	}
	fmt.Printf("# hand-off benchmark, %s, %d registrations at A, load before: %s\n", time.Now().UTC().Format(time.RFC3339), *count, loadavg())
	var rows []string
	for i := 0; i < *trials; i++ {
		for _, h := range []string{"2s", "0s"} {
			rows = append(rows, trial(i, h))
		}
	}
	slices.Sort(rows)
	fmt.Println()
	fmt.Println("| stop | registrations at A | A owned | SIGTERM to exit | hand-off (A's log) | CPU of A, SIGTERM to exit | CPU of B / C till their count | exit code | owned by B and C just after | takeover |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Printf("\n# load after: %s\n", loadavg())
}

// cpuOf returns the user and system CPU time of process pid so far.
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	st := string(b)
	f := strings.Fields(st[strings.LastIndexByte(st, ')')+2:])
	var u, k int64
	fmt.Sscan(f[11], &u)
	fmt.Sscan(f[12], &k)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}
