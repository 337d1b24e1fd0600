package handlespace

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"
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

// Policy is a pool's load-balancing policy: one small type per policy,
// in package handlespace/policy, which registers each (RegisterPolicy).
// The handlespace calls a policy through this interface only, and a
// policy reads a set through Set's trees and makes its picks with PickOf.
//
// Order says how the served sets of its pools are kept (by ID, by a rank,
// or weighted), and Build makes a selector for each version of a set.
// Build is called by the writer for every new view of a pool, never on the
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
	// Order is how the policy's sets are kept; the same for every call.
	Order() Order
	// Build returns the selector of set s (never empty).
	Build(s *Set, seq *atomic.Uint64, prev Selector, full bool) Selector
}

// InSetPolicy is a Policy whose selector needs nothing but a set's tree
// and sequence (and keeps no state of its own): it selects from the
// ElementSet itself (ElementSet.Set), so that a pool view's sets need no
// allocation of their own. InSet returns the same selection as Build
// would.
type InSetPolicy interface {
	Policy
	InSet(s *ElementSet) Selector
}

// Selector picks elements for one query. It is called concurrently by many
// queries, never takes a lock and never modifies the elements. It is never
// called for an empty set.
type Selector interface {
	// Select appends to dst up to k distinct elements, best first, and
	// returns dst. k <= 0 means all.
	Select(dst []Pick, k int, c *Client) []Pick
}

// policyMaker is a registered policy.
type policyMaker struct {
	mk       func(r Rand, spec PoolSpec) Policy
	distance bool
}

// policyMakers maps configuration names to constructors: package
// handlespace/policy registers them in its init functions.
var policyMakers = map[string]policyMaker{}

// RegisterPolicy makes the policy called name known to every handlespace
// (PolicyNames, NewPolicy, pools whose spec names it). mk returns the
// policy for the pools of spec with random source r; distance says that
// the policy counts an element's distance against it (DistancePolicy), so
// that its pools' DPF and DistanceStep (see DistanceOf) are part of it.
// Called from init functions only (package handlespace/policy, which every
// program that serves pools imports); it panics when name is taken.
func RegisterPolicy(name string, distance bool, mk func(r Rand, spec PoolSpec) Policy) {
	if _, ok := policyMakers[name]; ok {
		panic("handlespace: policy " + name + " registered twice")
	}
	policyMakers[name] = policyMaker{mk: mk, distance: distance}
}

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
	spec := DefaultPoolSpec()
	spec.Policy = name
	return PolicyFor(spec, r)
}

// PolicyFor returns the policy of the pools of spec (spec.Policy, with
// spec's distance settings for a distance-penalty policy) with random
// source r (nil for DefaultRand).
func PolicyFor(spec PoolSpec, r Rand) (Policy, error) {
	m, ok := policyMakers[spec.Policy]
	if !ok && len(policyMakers) == 0 {
		return nil, fmt.Errorf("unknown policy %q: no policy is registered (a program imports package handlespace/policy)", spec.Policy)
	}
	if !ok {
		return nil, fmt.Errorf("unknown policy %q; want one of %s", spec.Policy, strings.Join(PolicyNames(), ", "))
	}
	if r == nil {
		r = DefaultRand
	}
	return m.mk(r, spec), nil
}

// samePolicy reports whether two pool specs select alike: the same
// policy, and for a distance-penalty policy the same factor and step.
func samePolicy(a, b PoolSpec) bool {
	if a.Policy != b.Policy {
		return false
	}
	return !DistancePolicy(a.Policy) || DistanceOf(a) == DistanceOf(b)
}

// WeightedPolicy reports whether the policy's SRV answers share one priority
// and carry the elements' weights (so that an RFC 2782 client does the
// weighted pick itself) rather than carrying the policy order in the SRV
// priority field.
func WeightedPolicy(name string) bool { return name == "wrr" || name == "wrand" }

const (
	// DefaultDPF is the distance penalty factor of pools that set none:
	// 0.1 % of full load per millisecond of distance.
	DefaultDPF = LoadFull / 1000
	// DefaultDistanceStep is the distance step of pools that set none,
	// RSPLIB's default.
	DefaultDistanceStep = 50 * time.Millisecond
	// MaxDistanceStep is the largest distance step a pool may have.
	MaxDistanceStep = time.Minute
)

// DistanceSpec is a pool's distance settings, for the distance-penalty
// policies (see package handlespace/policy).
type DistanceSpec struct {
	DPF    uint64 // PoolSpec.DPF, DefaultDPF for 0
	StepMs uint64 // PoolSpec.DistanceStep in ms, at least 1; DefaultDistanceStep for 0
}

// DistanceOf returns the distance settings of the pools of spec, defaults
// filled in.
func DistanceOf(s PoolSpec) DistanceSpec {
	step, dpf := s.DistanceStep, s.DPF
	if step <= 0 {
		step = DefaultDistanceStep
	}
	if dpf == 0 {
		dpf = DefaultDPF
	}
	return DistanceSpec{DPF: uint64(dpf), StepMs: uint64(max(step/time.Millisecond, 1))}
}

// DistancePolicy reports whether the policy counts an element's distance
// against it (the -dpf policies), so that its pools take a penalty factor
// and a distance step.
func DistancePolicy(name string) bool { return policyMakers[name].distance }

// UsesRTT reports whether the order of the policy depends on the
// elements' RTT (nearest and the distance-penalty policies), so that a
// registrar measures its own RTT to the elements of its pools.
func UsesRTT(name string) bool { return name == "nearest" || DistancePolicy(name) }
