package enrp

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
