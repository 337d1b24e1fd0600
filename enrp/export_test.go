package enrp

import (
	"slices"

	"github.com/poolnsd/poolnsd/handlespace"
)

// The hand-off fixture of bench_test.go, for the benchmarks that also
// need a bind.Binding (bench_bind_test.go, an external test: enrp/bind
// imports enrp).
var (
	HandoffNodes = handoffNodes
	CPUTime      = cpuTime
)

// Minority reports whether this registrar is in a minority: the live
// registrars are fewer than half of those it knows (see known). For the
// scenario tests; the engine asks minority itself.
func (n *Node) Minority() bool { return n.minority(n.now()) }

// Live returns the live registrars (this one included), sorted.
func (n *Node) Live() []uint32 { return slices.Clone(n.live) }

// Entries calls f for every element the Node knows, sorted by pool and ID,
// with its ownership generation.
func (n *Node) Entries(f func(pool, policy string, e *handlespace.Element, gen uint32)) {
	for _, k := range n.tab.Keys(func(*entry) bool { return true }) {
		en := n.tab.Get(k)
		f(en.Pool, en.Policy, en.Elem, en.Gen)
	}
}
