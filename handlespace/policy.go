package handlespace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
)

// Client is what a selection may know of the pool user asking.
type Client struct {
	// Addr is the query's source address (may be invalid in tests).
	Addr netip.Addr
	// Subnet is the EDNS Client Subnet of the query, if it carried one.
	Subnet netip.Prefix
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
// Build is called by the writer each time the pool's set of elements (or
// their policy parameters) change, never on the query path. It returns the
// selector for elems, which the caller never modifies afterwards. prev is the
// selector that Build returned for the previous set of the same pool (nil the
// first time); per-query state such as a round-robin sequence or least-used
// degradation carries over from it.
type Policy interface {
	// Name is the policy's configuration name ("rr", "lud", …).
	Name() string
	Build(elems []*Element, prev Selector) Selector
}

// Selector picks elements for one query. It is called concurrently by many
// queries, never takes a lock and never modifies the elements.
type Selector interface {
	// Select appends to dst the indexes into the Build elems of up to k
	// distinct elements, best first, and returns dst. k <= 0 means all.
	Select(dst []int32, k int, c *Client) []int32
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
// DefaultRand).
func NewPolicy(name string, r Rand) (Policy, error) {
	mk, ok := policyMakers[name]
	if !ok {
		return nil, fmt.Errorf("unknown policy %q; want one of %s", name, strings.Join(PolicyNames(), ", "))
	}
	if r == nil {
		r = DefaultRand
	}
	return mk(r), nil
}

// WeightedPolicy reports whether the policy's SRV answers share one priority
// and carry the elements' weights (so that an RFC 2782 client does the
// weighted pick itself) rather than carrying the policy order in the SRV
// priority field.
func WeightedPolicy(name string) bool { return name == "wrr" || name == "wrand" }
