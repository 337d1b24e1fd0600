package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/nettest"
)

// distantBackend is an HTTP element that answers requests from slowFrom
// (the source address of one registrar's probes) delay late, as if it
// were far from that registrar, and the others at once.
func distantBackend(t *testing.T, slowFrom netip.Addr, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil && ap.Addr() == slowFrom {
			tm := time.NewTimer(delay)
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-r.Context().Done():
				return
			}
		}
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// nearestAnswer is the target label of name's first SRV record at addr
// (answers=1: the nearest element).
func nearestAnswer(addr, name string) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeSRV)
	r, err := nettest.Exchange(nil, m, addr)
	if err != nil {
		return "", err
	}
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.SRV); ok {
			return strings.TrimSuffix(s.Target, "."+name), nil
		}
	}
	return "", fmt.Errorf("%s SRV: %s, no answer", name, dns.RcodeToString[r.Rcode])
}

// TestNearestByOwnRTT runs two peering poolnsd on 127.0.0.1 (A) and
// 127.0.0.2 (B), each probing from its own address (probe.source), over a
// nearest pool of two HTTP elements: e1 answers B's requests 200 ms late,
// e2 A's. Whichever registrar is home of each, both serve the same
// elements with the same health, but each answers by its own distance: A
// e1, B e2, every time (the home's RTTs alone would give the two the
// same order).
func TestNearestByOwnRTT(t *testing.T) {
	t.Parallel()
	ipA, ipB := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	const delay = 200 * time.Millisecond
	e1, e2 := distantBackend(t, ipB, delay), distantBackend(t, ipA, delay)
	zone := `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53
$POOL near policy=nearest ttl=1 answers=1 probe=http:/healthz interval=1s timeout=800ms rise=1 fall=2
near   PE ` + e1 + ` name=e1
near   PE ` + e2 + ` name=e2
`
	ps := peeringCluster(t, zone)
	a, b := ps[0], ps[1] // C is not started
	startPeersWith(t, []*peer{a, b}, func(p *peer) *daemonProc {
		return startDaemon(t, p.dir, "--probe.source="+p.ip, "--nearest.rtt_interval=500ms")
	})

	const name = "near.pool.example."
	want := map[*peer]string{a: "e1", b: "e2"}
	// Wait until the homes have settled (both elements up everywhere, the
	// health of their home's probes) and both answer by their own
	// distance ...
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok := true
		for p, w := range want {
			got, err := nearestAnswer(p.dns, name)
			ok = ok && err == nil && got == w
			for _, e := range poolElements(t, "http://"+p.http, name) {
				ok = ok && e.Health == "up" && e.LocalRTTms != nil
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range []*peer{a, b} {
				got, err := nearestAnswer(p.dns, name)
				t.Logf("%s answers %q (%v); elements %+v", p.name, got, err, poolElements(t, "http://"+p.http, name))
			}
			t.Fatalf("the registrars do not answer by their own RTTs within %v", waitLimit)
		}
		<-tick.C
	}
	// ... and keep doing so (not a round robin of equals).
	for range 10 {
		for p, w := range want {
			if got, err := nearestAnswer(p.dns, name); err != nil || got != w {
				t.Errorf("%s answers %q (%v), want %s", p.name, got, err, w)
			}
		}
	}
	// Both see both elements up, with the same home; each its own RTTs.
	homes := map[string]string{}
	for _, p := range []*peer{a, b} {
		els := poolElements(t, "http://"+p.http, name)
		local := map[string]float64{}
		for _, e := range els {
			if e.Health != "up" || e.LocalRTTms == nil {
				t.Errorf("%s: %s is %s, local RTT %v", p.name, e.Label, e.Health, e.LocalRTTms)
				continue
			}
			local[e.Label] = *e.LocalRTTms
			if h, ok := homes[e.Label]; ok && h != e.Home {
				t.Errorf("%s: %s homed at %s, the other says %s", p.name, e.Label, e.Home, h)
			}
			homes[e.Label] = e.Home
			t.Logf("%s: %s home %s, home's RTT %v ms, own RTT %v ms", p.name, e.Label, e.Home, deref(e.RTTms), *e.LocalRTTms)
		}
		far := map[*peer]string{a: "e2", b: "e1"}[p]
		if local[far] < float64(delay/time.Millisecond) || local[far] <= local[want[p]] {
			t.Errorf("%s: own RTTs %v, want %s beyond %v and farther than %s", p.name, local, far, delay, want[p])
		}
	}
	labels := slices.Sorted(func(yield func(string) bool) {
		for l := range homes {
			if !yield(l) {
				return
			}
		}
	})
	if !slices.Equal(labels, []string{"e1", "e2"}) {
		t.Errorf("elements %v", labels)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
