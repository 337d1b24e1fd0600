package dnsserve

import (
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/internal/udpbatch"
	"golang.org/x/sys/unix"
)

// The UDP loops of udpbatch.NewThread wait for datagrams in their recvmmsg,
// each holding its P (see udpbatch.NewThread): a P so held runs nothing else
// until the runtime preempts the loop. So that the rest of the process
// (TCP, the API, the monitor, peering, the commits) keeps the Ps it would
// have had, GOMAXPROCS is raised by one for each such loop while it runs,
// and set back once the last one has ended. A thread that waits costs no
// CPU; a loop that answers uses its core as before.
//
// Not under a real-time scheduling policy (SCHED_FIFO, SCHED_RR,
// SCHED_DEADLINE). There a thread runs until it blocks, and Go's runtime
// assumes that the threads holding Ps all make progress: with more Ps
// than CPUs, one thread can spin in the runtime waiting for another that
// never gets its CPU. Seen (bench/bigpool -server-prio, one CPU,
// GOMAXPROCS 2): the background sweeper, finding the sweep not done
// because another thread was in the middle of sweeping a span, yields
// (runtime.Gosched) and is scheduled again at once, forever, on the one
// CPU; the thread it waits for, of the same priority, never runs, and the
// server answers nothing. So while the process is under a real-time
// policy the loops wait through the scheduler (udpbatch's
// SetSchedulerWait, as an idle loop does: the P is free for others while
// the thread waits) and GOMAXPROCS stays at its base. The policy is
// checked before the first loop raises GOMAXPROCS (chrt -f 20 poolnsd
// serve), by each loop between batches every loopPolicyEvery, and by a
// watcher every watchPolicyEvery while no datagram comes (chrt -a -p PID
// after the start); the watcher alone switches back, once no thread of the
// process is under a real-time policy any more.
//
// Nor while the loops are quiet: a second in which they read fewer than
// quietBelow datagrams each (the watcher counts). An idle loop waits
// through the scheduler anyway, leaving its P to the rest, and with the
// raised GOMAXPROCS that P is an idle one, so that nearly every goroutine
// wake-up of the rest (a registration's handler, commit, sync and reply)
// starts a thread for it: a futex and a context switch each, on a VM the
// largest part of a registration's CPU (bench/RESULTS.md "procs13"). So
// in a quiet second the loops wait through the scheduler and GOMAXPROCS
// is at its base, as under a real-time policy; the first second with
// more raises it again. Below that rate the scheduler's wait costs
// microseconds a second.
var procs struct {
	sync.Mutex
	base  int              // GOMAXPROCS before the first loop
	loops []*udpbatch.Conn // the threaded loops' sockets
	rt    bool             // a real-time policy: the loops wait through the scheduler
	quiet bool             // a quiet second: the loops wait through the scheduler
	msgs  uint64           // the loops' datagrams at the watcher's last look
	stop  chan struct{}    // ends the watcher
	log   *slog.Logger
}

// quietBelow is the datagrams per second and loop under which the loops
// are quiet (0: never; a variable for the tests).
var quietBelow atomic.Uint64

func init() { quietBelow.Store(100) }

var (
	// procsRT is procs.rt, for the loops' checks between batches.
	procsRT atomic.Bool
	// rtSwitches counts the switches to the scheduler wait.
	rtSwitches atomic.Uint64
	// quietSwitches counts the switches to it in a quiet second.
	quietSwitches atomic.Uint64
)

const (
	// loopPolicyEvery spaces a loop's checks of its thread's policy
	// (one system call) between batches: a policy set after the start
	// is seen that soon when queries come.
	loopPolicyEvery = 20 * time.Millisecond
	// watchPolicyEvery spaces the watcher's checks, for a policy set
	// while no query comes, and for its end.
	watchPolicyEvery = time.Second
)

// holdP counts a loop that holds a P, reading from bc, and raises
// GOMAXPROCS for it, unless the process is under a real-time policy: then
// bc waits through the scheduler. The first loop starts the watcher.
func holdP(bc *udpbatch.Conn, log *slog.Logger) {
	procs.Lock()
	defer procs.Unlock()
	if len(procs.loops) == 0 {
		procs.base = runtime.GOMAXPROCS(0)
		procs.log = log
		procs.stop = make(chan struct{})
		go watchPolicy(procs.stop)
		if p := policyOf(0, os.Getpid()); realtime(p) {
			procs.rt = true
			procsRT.Store(true)
			rtSwitches.Add(1)
			log.Info("UDP loops wait through the scheduler: real-time scheduling policy",
				"policy", policyName(p), "gomaxprocs", procs.base)
		}
	}
	procs.loops = append(procs.loops, bc)
	bc.SetSchedulerWait(procs.rt || procs.quiet)
	procs.msgs = loopMsgs()
	setProcs()
}

// releaseP undoes holdP once the loop of bc has ended.
func releaseP(bc *udpbatch.Conn) {
	procs.Lock()
	defer procs.Unlock()
	for i, c := range procs.loops {
		if c == bc {
			procs.loops = append(procs.loops[:i], procs.loops[i+1:]...)
			break
		}
	}
	procs.msgs = loopMsgs()
	setProcs()
	if len(procs.loops) == 0 {
		close(procs.stop)
		procs.rt = false
		procsRT.Store(false)
		procs.quiet = false
	}
}

// loopMsgs is the datagrams the loops read so far (procs locked).
func loopMsgs() uint64 {
	var n uint64
	for _, bc := range procs.loops {
		n += bc.Stats().ReadMsgs
	}
	return n
}

// setWait has the loops wait through the scheduler or hold their P, as
// procs says, and sets GOMAXPROCS for it (procs locked).
func setWait() {
	for _, bc := range procs.loops {
		bc.SetSchedulerWait(procs.rt || procs.quiet)
	}
	setProcs()
}

// setProcs sets GOMAXPROCS for the loops (procs locked).
func setProcs() {
	n := procs.base
	if !procs.rt && !procs.quiet {
		n += len(procs.loops)
	}
	if runtime.GOMAXPROCS(0) != n {
		runtime.GOMAXPROCS(n)
	}
}

// setRealtime switches the loops to the scheduler wait (rt) or back, if
// they are not so already; policy is the one that was seen.
func setRealtime(rt bool, policy int) {
	procs.Lock()
	defer procs.Unlock()
	if rt == procs.rt || len(procs.loops) == 0 {
		return
	}
	procs.rt = rt
	procsRT.Store(rt)
	setWait()
	if rt {
		rtSwitches.Add(1)
		procs.log.Info("UDP loops wait through the scheduler: real-time scheduling policy",
			"policy", policyName(policy), "gomaxprocs", runtime.GOMAXPROCS(0))
	} else {
		procs.log.Info("UDP loops wait holding their thread again: no real-time scheduling policy",
			"gomaxprocs", runtime.GOMAXPROCS(0))
	}
}

// loopCheck is a loop's check of its own thread's policy, between
// batches (the last at *at, now now): a real-time one switches every loop
// to the scheduler wait.
func loopCheck(at *time.Time, now time.Time) {
	if now.Sub(*at) < loopPolicyEvery {
		return
	}
	*at = now
	if procsRT.Load() {
		return // the watcher switches back
	}
	if p := policyOf(0); realtime(p) {
		setRealtime(true, p)
	}
}

// watchPolicy checks the process's policy every watchPolicyEvery until
// stop is closed: its own thread's and the main thread's, and, while the
// loops wait through the scheduler, every thread's (any one under a
// real-time policy keeps them there).
func watchPolicy(stop chan struct{}) {
	t := time.NewTicker(watchPolicyEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if procsRT.Load() {
			if p := anyThreadPolicy(); !realtime(p) {
				setRealtime(false, p)
			}
		} else if p := policyOf(0, os.Getpid()); realtime(p) {
			setRealtime(true, p)
		}
		checkQuiet()
	}
}

// checkQuiet is the watcher's look at the loops' datagrams since its
// last: fewer than quietBelow a second each make them quiet (see procs),
// more end it. The watcher looks every watchPolicyEvery.
func checkQuiet() {
	procs.Lock()
	defer procs.Unlock()
	if len(procs.loops) == 0 {
		return
	}
	n := loopMsgs()
	quiet := n-procs.msgs < quietBelow.Load()*uint64(len(procs.loops))*uint64(watchPolicyEvery/time.Second)
	procs.msgs = n
	if quiet == procs.quiet {
		return
	}
	procs.quiet = quiet
	if quiet {
		quietSwitches.Add(1)
	}
	setWait()
	procs.log.Debug("UDP loops quiet: wait through the scheduler", "quiet", quiet,
		"gomaxprocs", runtime.GOMAXPROCS(0))
}

// policyOf returns the first real-time scheduling policy of the threads
// tids (0: the calling one), or the last one's if none is real-time, or
// -1 if none could be read.
func policyOf(tids ...int) int {
	p := -1
	for _, tid := range tids {
		r, _, e := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
		if e != 0 {
			continue
		}
		p = int(r) &^ unix.SCHED_RESET_ON_FORK
		if realtime(p) {
			return p
		}
	}
	return p
}

// anyThreadPolicy is policyOf of every thread of the process.
func anyThreadPolicy() int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return policyOf(0, os.Getpid())
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return policyOf(tids...)
}

// realtime reports whether p is a real-time scheduling policy.
func realtime(p int) bool {
	return p == unix.SCHED_FIFO || p == unix.SCHED_RR || p == unix.SCHED_DEADLINE
}

func policyName(p int) string {
	switch p {
	case unix.SCHED_FIFO:
		return "SCHED_FIFO"
	case unix.SCHED_RR:
		return "SCHED_RR"
	case unix.SCHED_DEADLINE:
		return "SCHED_DEADLINE"
	case unix.SCHED_NORMAL:
		return "SCHED_OTHER"
	case unix.SCHED_BATCH:
		return "SCHED_BATCH"
	case unix.SCHED_IDLE:
		return "SCHED_IDLE"
	}
	return strconv.Itoa(p)
}

// RealtimeSwitches counts the times the UDP loops switched to the wait
// through the scheduler because of a real-time scheduling policy
// (threads.go), at their start or later, since the process started.
func RealtimeSwitches() uint64 { return rtSwitches.Load() }

// QuietSwitches counts the times the UDP loops switched to the wait
// through the scheduler, GOMAXPROCS at its base, because a second was
// quiet (fewer than quietBelow datagrams per loop; threads.go), since the
// process started. The first busy second switches them back.
func QuietSwitches() uint64 { return quietSwitches.Load() }
