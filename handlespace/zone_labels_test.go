package handlespace

import (
	"testing"

	"github.com/miekg/dns"
)

// TestCountLabels: countLabels agrees with dns.CountLabel on the FQDNs
// FindZone is given, escapes included.
func TestCountLabels(t *testing.T) {
	for _, name := range []string{".", "a.", "pool.test.", "web.pool.test.", "_http._tcp.web.pool.test.",
		`a\.b.test.`, `a\\.test.`, `\046.x.`, `a\..`, "x.y.z.w.v.u.t.s.r.q.p.o.n.m.l.k.j.i.h.g.f.e.d.c.b.a."} {
		if got, want := countLabels(name), dns.CountLabel(name); got != want {
			t.Errorf("countLabels(%q) = %d, want %d", name, got, want)
		}
	}
}
