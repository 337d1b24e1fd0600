package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/netlab"
)

// faultFor is how long a fault stands before it is healed.
const faultFor = 10 * time.Second

// others returns the lab's registrars but the ones named.
func (l *lab) others(names ...string) []*netlab.Registrar {
	var out []*netlab.Registrar
	for _, r := range l.cluster.Regs {
		if !slices.Contains(names, r.Name) {
			out = append(out, r)
		}
	}
	return out
}

// TestClusterKill is the short scenario that make test runs: five
// registrars in three sites, a thousand probed elements, the checker
// asking every registrar for every pool every 50 ms, registering and
// deregistering at random registrars and killing and reviving elements.
// r3 is killed (SIGKILL): every element it probed must be probed by
// another registrar within the takeover bound, and the survivors' answers
// must keep every rule. The checker stops; r3 is restarted, all five
// must agree within two presence intervals of its being ready, and every
// acknowledged registration must be everywhere. (What the answers do
// while r3 comes back is TestClusterRestart's.)
func TestClusterKill(t *testing.T) {
	l := newLab(t)
	l.run(t)
	l.steady(3 * time.Second)
	r3 := l.regs["r3"]
	killed := l.checker.Inject(t, r3.Kill())
	longest, median, nt := l.takeover(t, r3, killed, 3*bounds.Takeover)
	t.Logf("kill -9 r3: its %d elements probed by another registrar after %v (median %v)", nt, longest.Round(time.Millisecond), median.Round(time.Millisecond))
	if longest > bounds.Takeover {
		t.Errorf("takeover after kill -9 took %v, bound %v", longest, bounds.Takeover)
	}
	l.steady(faultFor - time.Since(killed))
	l.checker.Stop()
	t.Logf("the survivors' answers while r3 was dead: %s", l.checker.Gaps(killed, time.Now(), l.others("r3")...))
	// What r3 acknowledged in its last moments may not have reached the
	// others: the survivors must have everything else.
	n := l.checker.VerifyRegistrations(10*time.Second, func(by *netlab.Registrar, at time.Time) bool {
		return by == r3 && killed.Sub(at) < bounds.Propagate
	})
	t.Logf("%d acknowledged registrations and deregistrations checked at the survivors", n)
	back := l.checker.Inject(t, r3.Restart())
	if d, res, err := l.checker.Converge(back, 30*time.Second); err != nil {
		t.Errorf("after r3's restart: %v", err)
	} else {
		t.Logf("r3 restarted: all five agree %v after it was ready (a round of digests took %v; asserted by TestClusterRestart)", d.Round(time.Millisecond), res.Round(time.Millisecond))
	}
	rp := l.report(t)
	rp.Assert(t)
}
