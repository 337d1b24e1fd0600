package main

import (
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// defaultGOGC is the garbage collector's target percentage of heap growth
// when the environment sets no GOGC: 200, not Go's 100. Most of a large
// poolnsd's heap is its registrations, which live long, and the query
// path allocates nothing: a collection marks the whole of it for little
// garbage. Loading 1 000 000 stored registrations took 24 cycles and
// 14.1 s of GC CPU at GOGC=100, 11 cycles and 3.3 s at 200 (RSS after the
// load 1.37 GB against 1.65 GB); see bench/RESULTS.md, "A million
// elements", and docs/operations.md, "Memory and the garbage collector".
const defaultGOGC = 200

// memLimitShare is the part of the cgroup's memory limit (memory.max)
// that GOMEMLIMIT is set to when the environment sets none: the collector
// works harder as the heap nears it instead of the process being killed.
const memLimitShare = 0.9

// gcDefaults sets GOGC and GOMEMLIMIT unless the environment does, and
// returns them as they are then (GOMEMLIMIT in bytes, -1: none).
func gcDefaults() (gogc int, memLimit int64) {
	gogc = defaultGOGC
	if s := os.Getenv("GOGC"); s != "" {
		// The runtime read it: only report it.
		gogc = debug.SetGCPercent(-1)
		debug.SetGCPercent(gogc)
	} else {
		debug.SetGCPercent(defaultGOGC)
	}
	memLimit = debug.SetMemoryLimit(-1) // reads it
	if os.Getenv("GOMEMLIMIT") == "" {
		if max, ok := cgroupMemoryMax(); ok {
			memLimit = int64(float64(max) * memLimitShare)
			debug.SetMemoryLimit(memLimit)
		}
	}
	if memLimit == math.MaxInt64 {
		memLimit = -1
	}
	return gogc, memLimit
}

// cgroupMemoryMax is the memory limit of this process's cgroup (v2), if
// it has one.
func cgroupMemoryMax() (int64, bool) {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// releaseLoadMin is how many registrations a start must load for
// releaseLoad to return the load's garbage to the OS.
const releaseLoadMin = 10000

// releaseLoad returns the heap that loading regs registrations left free
// (the decoded records, the batches) to the OS at once, when there were
// many: one collection and one release in large runs
// (debug.FreeOSMemory), instead of the runtime's background scavenger
// giving it back 64 KiB at a time at 1 % of a CPU for minutes after the
// server is ready (at 1 000 000 registrations the heap peaks near
// 1 GB for 350 MB live; see bench/RESULTS.md, "Round 4").
func releaseLoad(regs int) {
	if regs >= releaseLoadMin {
		debug.FreeOSMemory()
	}
}
