package handlespace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
)

// Client is what a selection may know of the pool user asking.
type Client struct {
	// Addr is the query's source address (may be invalid in tests).
	Addr netip.Addr
	// Subnet is the EDNS Client Subnet of the query, if it carried one.
	Subnet netip.Prefix
	// Site is the client's site (0: none known), which the nearest
	// policy puts first: the caller finds it with SiteMap.Lookup.
	Site Site
}

// Rand is the random source of the randomised policies. It must be safe for
// concurrent use. Tests set a seeded one (see NewSeededRand).
type Rand interface {
	Uint64() uint64
}

type globalRand struct{}

func (globalRand) Uint64() uint64 { return rand.Uint64() }

// DefaultRand is the process-wide random source: math/rand/v2's, which is
// lock-free and safe for concurrent use.
var DefaultRand Rand = globalRand{}

// Policy is a pool's load-balancing policy: one small type per policy.
//
// A policy says how the served sets of its pools are kept (order: by ID, by
// a rank, or weighted), and builds a selector for each version of a set.
// build is called by the writer for every new view of a pool, never on the
// query path; it costs O(1) or O(log n) for the policies whose material is
// the set's own tree (everything but lud and hash, whose material is their
// own and is brought up to date, see their files). prev is the selector
// built for the previous version of the same set (nil the first time);
// per-query state such as least-used degradation carries over from it,
// and seq is the set's sequence (a round-robin position), which the set
// keeps across its versions. full says that the set was built anew rather
// than changed from prev's.
type Policy interface {
	// Name is the policy's configuration name ("rr", "lud", …).
	Name() string
	order() setOrder
	build(s *eset, seq *atomic.Uint64, prev Selector, full bool) Selector
}

// Selector picks elements for one query. It is called concurrently by many
// queries, never takes a lock and never modifies the elements. It is never
// called for an empty set.
type Selector interface {
	// Select appends to dst up to k distinct elements, best first, and
	// returns dst. k <= 0 means all.
	Select(dst []Pick, k int, c *Client) []Pick
}

// policyMakers maps configuration names to constructors. The policies
// register themselves in their files' init functions.
var policyMakers = map[string]func(Rand) Policy{}

func registerPolicy(name string, mk func(Rand) Policy) { policyMakers[name] = mk }

// PolicyNames lists the known policy names, sorted.
func PolicyNames() []string {
	names := make([]string, 0, len(policyMakers))
	for n := range policyMakers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// NewPolicy returns the policy called name with random source r (nil for
// DefaultRand). A distance-penalty policy (see DistancePolicy) gets the
// default penalty factor and distance step (DefaultDPF,
// DefaultDistanceStep); pools get theirs from their spec.
func NewPolicy(name string, r Rand) (Policy, error) {
	return newPolicyFor(name, DefaultPoolSpec(), r)
}

// newPolicyFor returns the policy called name with the distance settings
// of spec.
func newPolicyFor(name string, spec PoolSpec, r Rand) (Policy, error) {
	mk, ok := policyMakers[name]
	if !ok {
		return nil, fmt.Errorf("unknown policy %q; want one of %s", name, strings.Join(PolicyNames(), ", "))
	}
	if r == nil {
		r = DefaultRand
	}
	if dmk, ok := distMakers[name]; ok {
		return dmk(r, distOf(spec)), nil
	}
	return mk(r), nil
}

// samePolicy reports whether two pool specs select alike: the same
// policy, and for a distance-penalty policy the same factor and step.
func samePolicy(a, b PoolSpec) bool {
	if a.Policy != b.Policy {
		return false
	}
	return !DistancePolicy(a.Policy) || distOf(a) == distOf(b)
}

// WeightedPolicy reports whether the policy's SRV answers share one priority
// and carry the elements' weights (so that an RFC 2782 client does the
// weighted pick itself) rather than carrying the policy order in the SRV
// priority field.
func WeightedPolicy(name string) bool { return name == "wrr" || name == "wrand" }
