package cookie

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU returns a func that reports the process's CPU time per
// operation since reportCPU was called (cpu-ns/op): on a loaded machine
// it varies far less than the wall time of ns/op. Use it as
// defer reportCPU(b)() before the benchmark's loop.
func reportCPU(b *testing.B) func() {
	c0 := cpuTime(b)
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime(b)-c0)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
