package dnsserve

import (
	"runtime"
	"sync"
)

// The UDP loops of udpbatch.NewThread wait for datagrams in their recvmmsg,
// each holding its P (see udpbatch.NewThread): a P so held runs nothing else
// until the runtime preempts the loop. So that the rest of the process
// (TCP, the API, the monitor, peering, the commits) keeps the Ps it would
// have had, GOMAXPROCS is raised by one for each such loop while it runs,
// and set back once the last one has ended. A thread that waits costs no
// CPU; a loop that answers uses its core as before.
var procs struct {
	sync.Mutex
	base  int // GOMAXPROCS before the first loop
	loops int
}

// holdP counts a loop that holds a P, and raises GOMAXPROCS for it.
func holdP() {
	procs.Lock()
	defer procs.Unlock()
	if procs.loops == 0 {
		procs.base = runtime.GOMAXPROCS(0)
	}
	procs.loops++
	runtime.GOMAXPROCS(procs.base + procs.loops)
}

// releaseP undoes holdP once its loop has ended.
func releaseP() {
	procs.Lock()
	defer procs.Unlock()
	procs.loops--
	runtime.GOMAXPROCS(procs.base + procs.loops)
}
