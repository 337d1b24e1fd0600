package lookup

import (
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

const testZone = `$ORIGIN pool.test.
@      3600 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30
@      3600 IN NS  ns1.pool.test.
ns1    3600 IN A   192.0.2.53
ns1    3600 IN AAAA 2001:db8::53
www    300  IN CNAME txt.pool.test.
alias  300  IN CNAME web.pool.test.
gone   300  IN CNAME nope.web.pool.test.
mail   300  IN MX  10 mx1.pool.test.
mx1    300  IN A   192.0.2.25
txt    300  IN TXT "hello"
a.b.deep 300 IN TXT "deep"
*.wild 300  IN TXT "wild"
sub    300  IN NS  ns.sub.pool.test.
ns.sub 300  IN A   192.0.2.99
`

// mustRRs and elem are hstest's, under the names these tests use.
var (
	mustRRs = hstest.RRs
	elem    = hstest.Elem
)

// newTestSpace builds the handlespace that dnsfront's handler tests query
// too: pool.test. with static records and pools web (rr, 4 elements, one
// dual-stack), api (wrr), dead (all down, fails closed) and open (all
// down, fails open).
func newTestSpace(t testing.TB, extra ...handlespace.PoolDef) *handlespace.Handlespace {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	spec := func(policy string) handlespace.PoolSpec {
		s := handlespace.DefaultPoolSpec()
		s.Policy = policy
		return s
	}
	web := spec("rr")
	web.Service = "_http._tcp"
	web.URI = "http://{name}:{port}/"
	open := spec("rr")
	open.AllDown = handlespace.AllDownAll
	def := handlespace.ZoneDef{
		Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, testZone),
		Pools: []handlespace.PoolDef{
			{Handle: "web", Spec: web, Elements: []*handlespace.Element{
				elem("w1", "10.0.0.1", 8080, 1), elem("w2", "10.0.0.2", 8080, 1),
				elem("w3", "10.0.0.3", 8080, 1), elem("w4", "10.0.0.4,2001:db8::4", 8080, 1),
			}},
			{Handle: "api", Spec: spec("wrr"), Elements: []*handlespace.Element{
				elem("a1", "10.0.1.1", 443, 10), elem("a2", "10.0.1.2", 443, 20),
			}},
			{Handle: "dead", Spec: spec("rr"), Elements: []*handlespace.Element{elem("d1", "10.0.2.1", 80, 1)}},
			{Handle: "open", Spec: open, Elements: []*handlespace.Element{elem("o1", "10.0.3.1", 80, 1)}},
		},
	}
	def.Pools = append(def.Pools, extra...)
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"dead.pool.test.", "open.pool.test."} {
		pv := hs.View().Zone("pool.test.").Pool(strings.Split(p, ".")[0])
		if err := hs.Update(p, pv.Elements()[0].ID, func(x *handlespace.Element) { x.Health = handlespace.HealthDown }); err != nil {
			t.Fatal(err)
		}
	}
	return hs
}
