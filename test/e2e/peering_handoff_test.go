package e2e

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// TestPeeringHandoffKill: A stops with SIGTERM and hands its 300
// registrations to B and C; the moment A says the hand-off is over (both
// acknowledged), B and C are killed with SIGKILL, and A is not started
// again. Started again, B and C still have every registration, homed at
// one of them: a peer acknowledges a hand-off only once what it was
// handed is in its store (enrpnet.DriverConfig.Durable), and the kill
// comes after the acknowledgements.
func TestPeeringHandoffKill(t *testing.T) {
	t.Parallel()
	ps := peeringCluster(t, peeringZone, "rate: 1000000", "burst: 1000", "max_per_pool: 0", "max_per_key: 0")
	a, b, c := ps[0], ps[1], ps[2]
	startPeers(t, ps, "--http.token="+regToken, "--enrp.handoff_timeout="+ptHandoffTimeout.String())
	const n = 300
	for i := range n {
		if code, body := proctest.APIDo(t, "PUT", fmt.Sprintf("http://%s/v1/pools/reg.pool.example./elements/h%d", a.http, i), regToken,
			fmt.Sprintf(`{"addresses":["10.7.%d.%d"],"port":80,"lease":3600}`, i>>8, i&255)); code != 201 && code != 200 {
			t.Fatalf("registration %d at A: %d %s", i, code, body)
		}
	}
	count := func(p *peer, homes ...uint32) int {
		var pj httpapi.PoolJSON
		if code, body := proctest.APIDo(t, "GET", "http://"+p.http+"/v1/pools/reg.pool.example.", "", ""); code != 200 {
			return 0 // not yet (404: no such pool), or not up
		} else if err := json.Unmarshal(body, &pj); err != nil || pj.Elements == nil {
			t.Fatalf("GET %s/v1/pools/reg.pool.example.: %v %s", p.http, err, body)
		}
		got := 0
		for _, e := range *pj.Elements {
			for _, h := range homes {
				if e.Home == handlespace.IDString(h) {
					got++
				}
			}
		}
		return got
	}
	for _, p := range []*peer{b, c} {
		waitUntil(t, p.name+" has A's registrations", func() bool { return count(p, a.id) == n })
	}
	a.p.cmd.Process.Signal(syscall.SIGTERM)
	a.p.waitLog(0, "A's hand-off", msgIs("handed off"))
	b.p.cmd.Process.Signal(syscall.SIGKILL)
	c.p.cmd.Process.Signal(syscall.SIGKILL)
	a.p.waitExit(waitLimit)
	b.p.waitExit(waitLimit)
	c.p.waitExit(waitLimit)
	for _, p := range []*peer{b, c} {
		restartPeer(t, p, func(p *peer) *daemonProc { return startDaemon(t, p.dir, "--http.token="+regToken) })
	}
	for _, p := range []*peer{b, c} {
		waitUntil(t, p.name+" has every registration, homed at B or C", func() bool { return count(p, b.id, c.id) == n })
	}
	t.Logf("B and C, killed the moment A's hand-off ended and started again, have all %d registrations", n)
}

// waitUntil waits until cond holds, checking every 50 ms, up to waitLimit.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(50*time.Millisecond, cond) {
		t.Fatalf("%s: not within %v", what, waitLimit)
	}
}
