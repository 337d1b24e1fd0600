package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// TestProbeAcrossStop: a poolnsd probes a live backend that takes 200 ms
// to answer (a probe every 400 ms: one is in flight half of the time)
// with fall=1:
// one failure takes the element out. poolnsd is stopped (SIGSTOP) for a
// second, again and again: the probe in flight when it stops is
// answered while it is stopped, and times out when it runs again (its
// deadline fires first). That failure is the stop's, not the backend's:
// it is not counted (poolnsd_probes_stalled_total), the element is probed
// again at once, and it never leaves the answers.
func TestProbeAcrossStop(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond) // a slow backend: the probe's wait
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	be := ln.Addr().String()
	zone := goodZone[:len(goodZone)-len("web    PE 10.0.0.1:8080\nweb    PE 10.0.0.2:8080\n")] +
		fmt.Sprintf("web    PE %s\n", be) +
		"\n$POOL slow policy=rr ttl=5 answers=3 probe=http:/healthz interval=400ms timeout=350ms rise=1 fall=1\n" +
		fmt.Sprintf("slow   PE %s\n", be)
	dir := daemonDir(t, zone)
	p := startDaemon(t, dir)
	dnsAddr, _ := p.ready()
	api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
	metricsURL := "http://" + api.Str("addr") + "/metrics"
	want := []string{"127.0.0.1"}
	waitAnswer(t, "poolnsd", dnsAddr, "slow.pool.example.", want)
	from := p.cursor()
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
	stalled := 0.0
	for round := 1; round <= 20 && stalled < 1; round++ {
		passes := samples().Sum("poolnsd_probes_total", "result=pass")
		// The stop comes at a random point of the probes' cycle.
		<-time.After(time.Duration(rand.Int64N(int64(400 * time.Millisecond))))
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		<-time.After(time.Second) // the stop lasts a second: nothing to wait for
		if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		// Answers right after the stop, while the probes resume.
		for range 5 {
			if got := addrsOf(t, dnsAddr, "slow.pool.example."); len(got) != 1 {
				t.Fatalf("round %d: slow.pool.example. answers %v after the stop, want %v", round, got, want)
			}
		}
		// The next stop comes after two probes passed (the one again at
		// once, if any, among them): two stops within one probe are
		// starvation, where the probe after a stalled one counts.
		deadline := time.Now().Add(waitLimit)
		for s := samples(); ; s = samples() {
			if s.Sum("poolnsd_probes_total", "result=pass") >= passes+2 {
				stalled, _ = s.Value("poolnsd_probes_stalled_total")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no probe passed within %v after the stop", round, waitLimit)
			}
			<-time.After(50 * time.Millisecond) // polling the metrics
		}
		t.Logf("round %d: %v probe failures put down to a stop so far", round, stalled)
	}
	if stalled == 0 {
		t.Fatal("no probe was in flight at any stop (poolnsd_probes_stalled_total 0): the test did not test")
	}
	for _, r := range p.Records(from, p.cursor()) {
		if r.Str("msg") == "health changed" {
			t.Errorf("after the first stop: %v", r)
		}
	}
}
