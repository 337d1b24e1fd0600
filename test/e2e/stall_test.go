package e2e

import (
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// TestProbeAcrossStop: a poolnsd probes a live backend (a probe every
// 1.2 s, timeout 1 s) with fall=1: one failure takes the element out.
// The backend answers at once, but for one probe a round, which it holds:
// with that probe in flight, poolnsd is stopped (SIGSTOP) for 2.5 s, and
// when it runs again the probe's deadline has passed with no answer. A
// failure so late (more than twice the timeout) is the stop's, not the
// backend's: it is not counted (poolnsd_probes_stalled_total), the
// element is probed again at once, and it never leaves the answers. The
// held probe's answer comes only after poolnsd counted the stall.
//
// The probe in flight at each stop is the one the backend holds, not one
// the stop happens to meet; the other probes' answers come at once, 1 s
// within their timeout, so that a loaded machine does not fail them.
// (An answer that came while poolnsd was stopped could be read first
// when it runs again, the probe passing: right, but no stall to count.)
func TestProbeAcrossStop(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// hold, when set, is taken by the next probe: its handler closes
	// caught and answers when release is closed.
	type catch struct{ caught, release chan struct{} }
	var (
		mu   sync.Mutex
		hold *catch
	)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		c := hold
		hold = nil
		mu.Unlock()
		if c != nil {
			close(c.caught)
			<-c.release
		}
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	be := ln.Addr().String()
	zone := goodZone[:len(goodZone)-len("web    PE 10.0.0.1:8080\nweb    PE 10.0.0.2:8080\n")] +
		fmt.Sprintf("web    PE %s\n", be) +
		"\n$POOL slow policy=rr ttl=5 answers=3 probe=http:/healthz interval=1200ms timeout=1s rise=1 fall=1\n" +
		fmt.Sprintf("slow   PE %s\n", be)
	dir := daemonDir(t, zone)
	p := startDaemon(t, dir)
	dnsAddr, _ := p.ready()
	api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
	metricsURL := "http://" + api.Str("addr") + "/metrics"
	want := []string{"127.0.0.1"}
	waitAnswer(t, "poolnsd", dnsAddr, "slow.pool.example.", want)
	// The first probe's change (unknown to up) may be logged after the
	// first answer: the health changes counted below come after it.
	_, up := p.waitLog(0, "the element up", func(r logRec) bool {
		return r.Str("msg") == "health changed" && r.Str("pool") == "slow.pool.example." && r.Str("to") == "up"
	})
	from := up
	// If the test fails while poolnsd is stopped, it must run again to be
	// killed and to print its log.
	t.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGCONT) })

	samples := func() metricstest.Samples {
		s, _, err := metricstest.Scrape(http.DefaultClient, metricsURL)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// waitSample polls the metrics until ok holds of them.
	waitSample := func(what string, ok func(metricstest.Samples) bool) {
		t.Helper()
		deadline := time.Now().Add(waitLimit)
		for s := samples(); !ok(s); s = samples() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, waitLimit)
			}
			<-time.After(50 * time.Millisecond) // polling the metrics
		}
	}
	const rounds = 3
	for round := 1; round <= rounds; round++ {
		passes := samples().Sum("poolnsd_probes_total", "result=pass")
		c := &catch{caught: make(chan struct{}), release: make(chan struct{})}
		mu.Lock()
		hold = c
		mu.Unlock()
		// The backend answers the held probe at the round's end, or at
		// the test's if it fails first.
		released := false
		release := func() {
			if !released {
				released = true
				close(c.release)
			}
		}
		t.Cleanup(release)
		select {
		case <-c.caught:
		case <-time.After(waitLimit):
			t.Fatalf("round %d: no probe within %v", round, waitLimit)
		}
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		// The stop lasts 2.5 s, past twice the probe's timeout since it
		// began: nothing to wait for.
		<-time.After(2500 * time.Millisecond)
		if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		// Answers right after the stop, while the probes resume.
		for range 5 {
			if got := addrsOf(t, dnsAddr, "slow.pool.example."); len(got) != 1 {
				t.Fatalf("round %d: slow.pool.example. answers %v after the stop, want %v", round, got, want)
			}
		}
		// The held probe's failure is put down to the stop.
		waitSample(fmt.Sprintf("round %d: the held probe's failure put down to the stop", round), func(s metricstest.Samples) bool {
			v, _ := s.Value("poolnsd_probes_stalled_total")
			return v >= float64(round)
		})
		release()
		// The next round after two probes passed (the one again at once
		// among them).
		waitSample(fmt.Sprintf("round %d: two probes passed after the stop", round), func(s metricstest.Samples) bool {
			return s.Sum("poolnsd_probes_total", "result=pass") >= passes+2
		})
	}
	// Each held probe stalled (each round waited for it). A stop can
	// stall a second probe: one that has had no answer for ConfirmDelay
	// (20 ms here, four loopback RTTs) gets another beside it, and a
	// SIGSTOP that comes that long after the catch (a loaded machine) can
	// meet that one in flight too; a machine that starves poolnsd for
	// over 2 s stalls a probe as well. Both are stalls poolnsd really
	// had: what must not be is a failure that is not a stall.
	s := samples()
	stalled, _ := s.Value("poolnsd_probes_stalled_total")
	if stalled < rounds {
		t.Errorf("poolnsd_probes_stalled_total %v after %d stops, one held probe each, want at least %d", stalled, rounds, rounds)
	} else if stalled > rounds {
		t.Logf("%v probes stalled in %d stops (a second probe in flight at a stop, or a starved poolnsd)", stalled, rounds)
	}
	// poolnsd_probes_total counts every check's result, the stalled
	// ones too: the held probes' timeouts, and no other failure.
	if v := s.Sum("poolnsd_probes_total", "result=fail"); v != stalled {
		t.Errorf("%v probes failed, want %v (the stalled ones: the held probes and any the stops met)", v, stalled)
	}
	for _, r := range p.Records(from, p.cursor()) {
		if r.Str("msg") == "health changed" {
			t.Errorf("after the first stop: %v", r)
		}
	}
}
