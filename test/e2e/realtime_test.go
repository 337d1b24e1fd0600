package e2e

import (
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestRealtimePolicy: poolnsd with the default UDP wait (a thread each
// loop, GOMAXPROCS raised by one each) pinned to one CPU and run under
// SCHED_FIFO, set at its start (chrt -f) or on all its threads after it
// (chrt -a -f -p), keeps answering queries and registrations under a
// load of both (issue 13: it used to stall, one thread spinning in the Go
// scheduler, no answer at all). The loops log their switch to the wait
// through the scheduler.
//
// It needs root (or CAP_SYS_NICE), chrt and taskset, and two CPUs: the
// server gets one, the test's clients the others. Not parallel, so that
// no other test shares the CPU; the policy is reset (and the server
// killed) at the end, and at the latest after 20 s.
func TestRealtimePolicy(t *testing.T) {
	for _, tool := range []string{"chrt", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() < 2 {
		t.Skipf("needs two CPUs (affinity: %d, %v)", set.Count(), err)
	}
	cpu := -1
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpu = i // the last one
		}
	}
	if out, err := exec.Command("chrt", "-f", "1", "true").CombinedOutput(); err != nil {
		t.Skipf("SCHED_FIFO not allowed here (chrt -f 1 true: %v %s)", err, out)
	}
	for _, at := range []string{"start", "after"} {
		t.Run(at, func(t *testing.T) {
			dir := daemonDir(t, goodZone, regConfig("rate: 100000", "burst: 100000")...)
			wrap := []string{"taskset", "-c", strconv.Itoa(cpu)}
			if at == "start" {
				wrap = append([]string{"chrt", "-f", "20"}, wrap...)
			}
			p := startWrapped(t, dir, wrap)
			pid := strconv.Itoa(p.cmd.Process.Pid)
			normal := func() { exec.Command("chrt", "-a", "-o", "-p", "0", pid).Run() }
			guard := time.AfterFunc(20*time.Second, normal)
			t.Cleanup(func() { guard.Stop(); normal() }) // before the kill
			addr, _ := p.ready()
			if at == "after" {
				if out, err := exec.Command("chrt", "-a", "-f", "-p", "20", pid).CombinedOutput(); err != nil {
					t.Fatalf("chrt -a -f -p 20: %v %s", err, out)
				}
			}
			// At least 3 s, and until 100 registrations and 1000
			// answers are in: the clients (this process, on the other
			// CPUs) ask one at a time, and on a loaded machine they,
			// not the server, set the pace (905 answers in 3 s at load
			// 18-20, none lost, the last at the end). A stalled server
			// gets nowhere near by the 12 s cap.
			const least, most = 3 * time.Second, 12 * time.Second
			res := realtimeLoad(addr, least, most, 100, 1000)
			t.Logf("SCHED_FIFO at %s, CPU %d: %+v", at, cpu, res)
			if res.regs < 100 || res.answers < 1000 {
				t.Errorf("%d registrations and %d answers in %v, want at least 100 and 1000", res.regs, res.answers, res.ran)
			}
			if res.lost*100 > res.answers+res.lost {
				t.Errorf("%d of %d queries unanswered (3 s timeout), want under 1 %%", res.lost, res.answers+res.lost)
			}
			if res.lastReg < res.ran-500*time.Millisecond || res.lastAnswer < res.ran-500*time.Millisecond {
				t.Errorf("last registration acknowledged at %v, last answer at %v of the %v: the server stopped answering", res.lastReg, res.lastAnswer, res.ran)
			}
			if t.Failed() {
				return // a stalled server would not log it either
			}
			// The loops switched (at their start or within a batch).
			p.waitLog(0, "the switch to the scheduler wait", func(r logRec) bool {
				return r.Str("msg") == "UDP loops wait through the scheduler: real-time scheduling policy" && r.Str("policy") == "SCHED_FIFO"
			})
		})
	}
}

// startWrapped is startProc of "poolnsd serve" run by the command wrap
// (chrt, taskset).
func startWrapped(t *testing.T, dir string, wrap []string) *daemonProc {
	t.Helper()
	cmd := exec.Command(wrap[0], append(wrap[1:], binary, "serve")...)
	return startCmd(t, cmd, dir, fmt.Sprintf("%q poolnsd serve", wrap))
}

// loadResult is what realtimeLoad saw: registrations acknowledged, queries
// answered and not (within their timeout), when the last of each came and
// when the clients stopped (since the start of the load).
type loadResult struct {
	regs, answers, lost      int64
	lastReg, lastAnswer, ran time.Duration
}

// realtimeLoad registers new elements from 8 clients and asks for the web
// pool's addresses from 4, each as fast as the server answers, for at
// least least and until wantRegs registrations and wantAnswers answers
// are in, at most most.
func realtimeLoad(addr string, least, most time.Duration, wantRegs, wantAnswers int64) loadResult {
	var (
		res                 loadResult
		regs, answers, lost atomic.Int64
		lastReg, lastAns    atomic.Int64
		stopped             atomic.Int64 // when a client first found the load done
		next                atomic.Int64
		wg                  sync.WaitGroup
	)
	start := time.Now()
	going := func() bool {
		if stopped.Load() != 0 {
			return false
		}
		ran := time.Since(start)
		if ran < least || ran < most && (regs.Load() < wantRegs || answers.Load() < wantAnswers) {
			return true
		}
		stopped.CompareAndSwap(0, int64(ran))
		return false
	}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for going() {
				i := int(next.Add(1))
				if register(addr, fmt.Sprintf("rt%d", i), i, 3600) == nil {
					regs.Add(1)
					lastReg.Store(int64(time.Since(start)))
				}
			}
		}()
	}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 3 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion("web.pool.example.", dns.TypeA)
			for going() {
				if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
					answers.Add(1)
					lastAns.Store(int64(time.Since(start)))
				} else {
					lost.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	res.regs, res.answers, res.lost = regs.Load(), answers.Load(), lost.Load()
	res.lastReg, res.lastAnswer = time.Duration(lastReg.Load()), time.Duration(lastAns.Load())
	res.ran = time.Duration(stopped.Load())
	return res
}
