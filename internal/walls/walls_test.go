package walls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mod is the module's path; "M/" in a rule stands for it.
const mod = "github.com/poolnsd/poolnsd"

// wall is one rule: the packages that from names (a pattern: "M/x" the
// package x of the module, "M/x/..." x and the packages below it) must not
// depend on the packages that deny names, except those that allow names.
// direct rules look at a package's own imports (its tests' too); the
// others at everything it depends on, directly or not.
type wall struct {
	from, except []string
	deny, allow  []string
	direct       bool
	why          string
}

// testHelpers are the packages that only tests (and the bench programs)
// may use; they may use each other (netlab, the cluster harness, runs
// poolnsd with proctest and makes certificates with enrptest).
var testHelpers = []string{"M/internal/hstest", "M/internal/testrand", "M/internal/threadcpu", "M/internal/zonetext", "M/internal/proctest", "M/internal/browsertest", "M/internal/nettest", "M/geosite/geositetest",
	"M/internal/netlab/...", "M/probe/probetest", "M/enrp/enrptest", "M/metrics/metricstest", "M/zones/zonestest", "M/internal/updatetest"}

var walls = []wall{
	{
		from: []string{"M/handlespace/..."},
		deny: []string{"M/..."}, allow: []string{"M/handlespace/..."},
		why: "handlespace is the core every other package builds on; it depends on none of them (DESIGN: Layout)",
	},
	{
		from: []string{"M/dnsfront/..."},
		deny: []string{"M/probe/...", "M/enrp/...", "M/monitor", "M/httpapi", "M/webui", "M/zones", "M/metrics",
			"net/http", "github.com/prometheus/..."},
		why: "the DNS front (and its UPDATE, TSIG and message-check packages) answers from a handlespace view: no prober, peering, HTTP or Prometheus on the query path (DESIGN: dnsfront never depends on probe or enrp); it counts through the leaf metrics/dnsmetrics",
	},
	{
		from: []string{"M/dnsfront/msgcheck", "M/dnsfront/tsigkey"},
		deny: []string{"M/..."},
		why:  "reading a raw message and keeping the TSIG keys are wire-level jobs: they know nothing of pools (the UPDATE package and the handler build on them)",
	},
	{
		from: []string{"M/dnsfront/dnsserve"},
		deny: []string{"M/..."}, allow: []string{"M/internal/udpbatch"},
		why: "the serving machinery binds listeners and moves bytes: what a query means is the handler's (dnsfront), behind the Handler and Loop interfaces it declares",
	},
	{
		from: []string{"M/dnsfront/lookup", "M/dnsfront/poolrr"},
		deny: []string{"M/..."}, allow: []string{"M/handlespace", "M/handlespace/internal/..."},
		why: "what a question finds (lookup) and what a pool's elements look like as records (poolrr) are pure functions of a handlespace view: they know neither the handler and renderers that use them (dnsfront) nor the policies that choose the elements",
	},
	{
		from: []string{"M/dnsfront/protect"},
		deny: []string{"M/..."}, allow: []string{"M/internal/cookie", "M/internal/rrl", "M/internal/identity", "M/internal/prefixset", "M/internal/ednsopt"},
		why: "the query protections check the client and add the reply's options: they know no pool, zone or answer (the handler asks them)",
	},
	{
		from: []string{"M/dnsfront/msgsign"},
		deny: []string{"M/..."}, allow: []string{"M/dnssec", "M/dnsfront/lookup", "M/handlespace", "M/handlespace/internal/..."},
		why: "signing a built reply is a function of the signer's zone, the lookup's result and the message: it knows neither the handler nor the renderers (dnsfront)",
	},
	{
		from: []string{"M/internal/netlab/relay", "M/internal/netlab/backend"},
		deny: []string{"M/..."},
		why:  "the lab's relay moves packets between sites by their addresses, and its backends answer and record probes: they know no registrar, pool or test of poolnsd (netlab drives them)",
	},
	{
		from: []string{"M/metrics/dnsmetrics", "M/probe/probespec", "M/internal/tally"},
		deny: []string{"M/...", "net/http", "github.com/prometheus/..."},
		why:  "leaf packages: the DNS counters, the probe grammar and the answer tally are shared by packages that must not depend on each other",
	},
	{
		from: []string{"M/zones"},
		deny: []string{"M/probe", "M/probe/probetest", "M/dnsfront", "M/enrp/...", "M/monitor", "M/regcommit", "M/store", "M/metrics"},
		why:  "zones parses files into handlespace definitions; the probe grammar it checks is probespec, the prober's own",
	},
	{
		from: []string{"M/probe"},
		deny: []string{"M/dnsfront", "M/enrp/...", "M/zones", "M/monitor", "M/regcommit", "M/store", "M/httpapi", "M/metrics"},
		why:  "probe reports results and owns no state of pools (DESIGN 14)",
	},
	{
		from: []string{"M/enrp/wire"},
		deny: []string{"M/..."}, allow: []string{"M/handlespace/..."},
		why: "the ENRP codec turns messages into bytes and back: it knows handlespace's element (ToPE, FromPE) and no other package of poolnsd, the engine that speaks it least of all",
	},
	{
		from: []string{"M/enrp/placement"},
		deny: []string{"M/..."}, allow: []string{"M/handlespace/..."},
		why: "placement is pure functions of registrar IDs, pools and votes: it knows handlespace's health and no other package of poolnsd",
	},
	{
		from: []string{"M/enrp/vantage"},
		deny: []string{"M/..."}, allow: []string{"M/handlespace/...", "M/enrp/placement"},
		why: "vantage is the confirmations' bookkeeping on the caller's clock: it knows placement's votes and handlespace's health, and no other package of poolnsd",
	},
	{
		from: []string{"M/enrp/baseline", "M/enrp/stale"},
		deny: []string{"M/..."}, allow: []string{"M/handlespace/..."},
		why: "baseline and stale are the Node's bookkeeping of lost homes' words and of a held view: they know handlespace's element and no other package of poolnsd, the engine that holds them least of all",
	},
	{
		from: []string{"M/enrp/table"},
		deny: []string{"M/..."}, allow: []string{"M/handlespace/...", "M/enrp/wire", "M/enrp/placement"},
		why: "the handle table keeps the Node's entries and the homes' sums: it knows the codec's checksum and digest, placement's rules of which copy wins, handlespace's element, and not the engine that holds it",
	},
	{
		from: []string{"M/enrp/..."},
		deny: []string{"M/dnsfront", "M/probe/...", "M/zones", "M/monitor", "M/httpapi", "M/webui", "M/metrics"},
		why:  "peering turns peers' messages into handlespace changes; it depends on none of its sibling front ends (DESIGN: Layout)",
	},
	{
		from: []string{"M/enrp/..."}, except: []string{"M/enrp/enrpnet", "M/enrp/enrptest"},
		deny:   []string{"net", "crypto/tls", "log/slog", "M/enrp/enrpnet"},
		direct: true,
		why:    "the ENRP engine and every package of it but the driver (its codec, handlespace binding, placement, bookkeeping, table) do no I/O: sockets, TLS, real timers and logging are the driver's (enrp/enrpnet; DESIGN: the node does no I/O)",
	},
	{
		from: []string{"M/..."}, except: []string{"M/cmd/poolnsd", "M/admin", "M/enrp/enrpnet", "M/bench/...", "M/test/..."},
		deny: []string{"M/enrp/enrpnet"},
		why:  "the ENRP driver (sockets, TLS, goroutines) is the daemon's to start: cmd/poolnsd wires it, admin asserts it is its Peering; everything else speaks to the engine or the codec",
	},
	{
		from: []string{"M/config/reload"},
		deny: []string{"M/..."}, allow: []string{"M/config", "M/handlespace/...", "M/internal/..."},
		why: "reload plans a reload from two configurations and does no I/O: it knows only config (and what config is built on)",
	},
	{
		from: []string{"M/admin", "M/metrics/metered"},
		deny: []string{"M/dnsfront", "M/zones", "M/webui", "M/cmd/..."},
		why:  "the daemon's parts between the HTTP API, peering, the monitor and the store answer no query and read no zone file",
	},
	{
		from: []string{"M/..."}, except: []string{"M/cmd/poolnsd", "M/admin", "M/metrics/metered"},
		deny: []string{"M/admin", "M/metrics/metered"},
		why:  "admin and metered are the daemon's glue: only cmd/poolnsd wires them (admin counts with metered), so that the packages below stay free of each other",
	},
	{
		from: []string{"..."}, except: []string{"M/store"},
		deny:   []string{"go.etcd.io/bbolt/..."},
		direct: true,
		why:    "only the store touches bbolt (DESIGN 23)",
	},
	{
		from: []string{"M/..."}, except: append([]string{"M/bench/..."}, testHelpers...),
		deny: testHelpers,
		why:  "test helpers are for tests: production code does not depend on them",
	},
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Standard     bool
	Error        *struct{ Err string }
}

// match reports whether path matches pattern ("M/" the module, a final
// "/..." the package and those below it, "..." everything).
func match(pattern, path string) bool {
	pattern = strings.Replace(pattern, "M", mod, 1)
	if pattern == "..." {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == p || strings.HasPrefix(path, p+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// loadGraph runs go list over the module and returns every package it
// depends on (standard library included), by import path, and the
// module's own packages.
func loadGraph(t *testing.T) (map[string]*pkg, []string) {
	t.Helper()
	out := goList(t, "-deps", "-test=false", "-json=ImportPath,Imports,TestImports,XTestImports,Standard,Error")
	all := map[string]*pkg{}
	var own []string
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		all[p.ImportPath] = p
		if match("M/...", p.ImportPath) {
			own = append(own, p.ImportPath)
		}
	}
	if len(own) == 0 {
		t.Fatal("go list found no package of the module")
	}
	return all, own
}

// goList runs go list with args over the module's packages (./...) and
// returns its output.
func goList(t *testing.T, args ...string) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command, to list the packages: %v", err)
	}
	cmd := exec.Command(goBin, append(append([]string{"list"}, args...), "./...")...)
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	return out
}

// violations checks every wall against the packages own of graph and
// returns what crosses one, a line each: the package, the chain of
// imports that reaches a forbidden one, and the wall's reason.
func violations(graph map[string]*pkg, own []string) []string {
	var out []string
	for _, w := range walls {
		for _, from := range own {
			if !matchAny(w.from, from) || matchAny(w.except, from) {
				continue
			}
			bad := func(path string) bool {
				return path != from && matchAny(w.deny, path) && !matchAny(w.allow, path)
			}
			if w.direct {
				p := graph[from]
				for _, imps := range [][]string{p.Imports, p.TestImports, p.XTestImports} {
					for _, imp := range imps {
						if bad(imp) {
							out = append(out, fmt.Sprintf("%s imports %s: %s", short(from), short(imp), w.why))
						}
					}
				}
				continue
			}
			for _, chain := range findPaths(graph, from, bad) {
				for i := range chain {
					chain[i] = short(chain[i])
				}
				out = append(out, fmt.Sprintf("%s depends on %s (%s): %s",
					chain[0], chain[len(chain)-1], strings.Join(chain, " → "), w.why))
			}
		}
	}
	return out
}

// findPaths returns, for each package for which bad is true that from
// depends on through (non-test) imports, the shortest chain of imports
// that leads to it. It does not look past such a package: what that one
// depends on is its own crossing.
func findPaths(graph map[string]*pkg, from string, bad func(string) bool) [][]string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	var chains [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		p := graph[cur]
		if p == nil {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = cur
			if !bad(imp) {
				queue = append(queue, imp)
				continue
			}
			var chain []string
			for x := imp; x != ""; x = prev[x] {
				chain = append(chain, x)
			}
			slices.Reverse(chain)
			chains = append(chains, chain)
		}
	}
	return chains
}

func short(path string) string {
	if s, ok := strings.CutPrefix(path, mod+"/"); ok {
		return s
	}
	return path
}

// TestImportWalls: no package of the module depends on one across a wall.
func TestImportWalls(t *testing.T) {
	graph, own := loadGraph(t)
	for _, v := range violations(graph, own) {
		t.Error(v)
	}
}

// TestWallsFindCrossings: the checker itself finds crossings several
// imports deep, a direct import that only a test makes, and lets an
// allowed package through; a made-up graph, so that a checker that
// reports nothing cannot pass.
func TestWallsFindCrossings(t *testing.T) {
	m := func(s string) string { return mod + "/" + s }
	graph := map[string]*pkg{
		m("dnsfront"):               {ImportPath: m("dnsfront"), Imports: []string{m("handlespace"), m("regcommit")}},
		m("regcommit"):              {ImportPath: m("regcommit"), Imports: []string{m("metrics"), m("x")}},
		m("x"):                      {ImportPath: m("x"), Imports: []string{"net/http"}},
		m("metrics"):                {ImportPath: m("metrics"), Imports: []string{"net/http"}},
		"net/http":                  {ImportPath: "net/http", Standard: true},
		m("handlespace"):            {ImportPath: m("handlespace"), Imports: []string{m("handlespace/internal/x")}},
		m("handlespace/internal/x"): {ImportPath: m("handlespace/internal/x")},
		m("webui"):                  {ImportPath: m("webui"), TestImports: []string{"go.etcd.io/bbolt"}},
	}
	got := violations(graph, []string{m("dnsfront"), m("regcommit"), m("x"), m("metrics"), m("handlespace"), m("handlespace/internal/x"), m("webui")})
	want := []string{
		"dnsfront depends on metrics (dnsfront → regcommit → metrics)",
		"dnsfront depends on net/http (dnsfront → regcommit → x → net/http)",
		"webui imports go.etcd.io/bbolt",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w+":") }) {
			t.Errorf("not reported: %s", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("reported %d crossings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}
