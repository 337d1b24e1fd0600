package enrp

// The hand-off fixture of bench_test.go, for the benchmarks that also
// need a bind.Binding (bench_bind_test.go, an external test: enrp/bind
// imports enrp).
var (
	HandoffNodes = handoffNodes
	CPUTime      = cpuTime
)
