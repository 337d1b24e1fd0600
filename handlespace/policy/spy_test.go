package policy

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Spies: for each policy a registered policy that builds as it does and
// keeps the selectors it built, by set. A handlespace keeps the selector
// of a pool view's set to itself (answers go through ElementSet.Select);
// a test that checks the state of that selector (lud's counts, hash's
// table, the set's sequence) serves the pool with the spy's policy
// (spyOn) and finds the selector with selectorOf. A spy hands the
// handlespace its policy's selectors unchanged, so the pools select as
// they would with the policy itself.

// spyPrefix begins the names of the spies (spyPrefix+"lud" spies on lud).
const spyPrefix = "spy-"

// spied holds the selectors that the spies built, by set; spyOn's test
// forgets them at its end.
var spied struct {
	sync.Mutex
	m map[*handlespace.Set]handlespace.Selector
}

func keep(set *handlespace.Set, sel handlespace.Selector) {
	spied.Lock()
	defer spied.Unlock()
	if spied.m == nil {
		spied.m = map[*handlespace.Set]handlespace.Selector{}
	}
	spied.m[set] = sel
}

// spy is the spy of a policy (Policy) without InSet.
type spy struct {
	handlespace.Policy
	name string
}

func (s spy) Name() string { return s.name }

func (s spy) Build(set *handlespace.Set, seq *atomic.Uint64, prev handlespace.Selector, full bool) handlespace.Selector {
	sel := s.Policy.Build(set, seq, prev, full)
	keep(set, sel)
	return sel
}

// inSetSpy is the spy of a policy that selects from the ElementSet
// itself: the handlespace calls its InSet, not Build.
type inSetSpy struct {
	spy
	in handlespace.InSetPolicy
}

func (s inSetSpy) InSet(es *handlespace.ElementSet) handlespace.Selector {
	sel := s.in.InSet(es)
	set, _ := es.Set()
	keep(set, sel)
	return sel
}

// registerSpies registers the spy of every registered policy. TestMain
// calls it before the tests run, as the policies' init functions
// register them before any handlespace uses one.
func registerSpies() {
	for _, name := range handlespace.PolicyNames() {
		handlespace.RegisterPolicy(spyPrefix+name, handlespace.DistancePolicy(name), func(r handlespace.Rand, spec handlespace.PoolSpec) handlespace.Policy {
			spec.Policy = name
			p, err := handlespace.PolicyFor(spec, r)
			if err != nil {
				panic(err)
			}
			s := spy{Policy: p, name: spyPrefix + name}
			if in, ok := p.(handlespace.InSetPolicy); ok {
				return inSetSpy{spy: s, in: in}
			}
			return s
		})
	}
}

// policyNames returns the names of the policies (handlespace.PolicyNames
// without the spies).
func policyNames() []string {
	return slices.DeleteFunc(handlespace.PolicyNames(), func(n string) bool { return strings.HasPrefix(n, spyPrefix) })
}

// spyOn returns the name of the spy of policy name, for the pools whose
// selectors t looks at (selectorOf).
func spyOn(t testing.TB, name string) string {
	t.Helper()
	if !slices.Contains(policyNames(), name) {
		t.Fatalf("no policy %q to spy on", name)
	}
	t.Cleanup(func() {
		spied.Lock()
		defer spied.Unlock()
		clear(spied.m)
	})
	return spyPrefix + name
}

// selectorOf returns the selector that the policy of es's pool built for
// es: the one es.Select asks. The pool's policy must be a spy (spyOn).
func selectorOf(t testing.TB, es *handlespace.ElementSet) handlespace.Selector {
	t.Helper()
	set, _ := es.Set()
	spied.Lock()
	sel, ok := spied.m[set]
	spied.Unlock()
	if !ok {
		t.Fatal("no spy built this set's selector: serve its pool with spyOn's policy")
	}
	return sel
}
