package e2e

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/metrics/metricstest"
)

// Process tests of health confirmation from other vantage points and of
// the planned hand-off: three real poolnsd on 127.0.0.1, .2 and .3 (each
// probing from its own address, probe.source), real backends on
// 127.0.1.x.

// vbackend is a pool element for the process tests: an HTTP server on its
// own loopback address that answers 200, or 503 to the probes coming from
// the addresses it is told to refuse, and records when each probe came.
type vbackend struct {
	ln   net.Listener
	addr netip.AddrPort

	mu      sync.Mutex
	refuse  map[string]bool // by source IP; "*" every source
	probes  []time.Time
	from    []string // probes[i] came from from[i]
	sources map[string]int
}

func newVBackend(t *testing.T, ip string) *vbackend {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	b := &vbackend{ln: ln, addr: netip.MustParseAddrPort(ln.Addr().String()), refuse: map[string]bool{}, sources: map[string]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		src, _, _ := net.SplitHostPort(r.RemoteAddr)
		b.mu.Lock()
		b.probes = append(b.probes, time.Now())
		b.from = append(b.from, src)
		b.sources[src]++
		refused := b.refuse[src] || b.refuse["*"]
		b.mu.Unlock()
		if refused {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

// setRefused makes the vbackend refuse the probes from ips ("*": all).
func (b *vbackend) setRefused(ips ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuse = map[string]bool{}
	for _, ip := range ips {
		b.refuse[ip] = true
	}
}

// probedFrom reports whether a probe came from ip at since or later.
func (b *vbackend) probedFrom(ip string, since time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, at := range b.probes {
		if b.from[i] == ip && !at.Before(since) {
			return true
		}
	}
	return false
}

// maxGap returns the longest time between two probes of the vbackend from
// since on (the first counted from since).
func (b *vbackend) maxGap(since, until time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var last time.Time
	gap := time.Duration(0)
	for _, at := range b.probes {
		if at.Before(since) || at.After(until) {
			continue
		}
		if !last.IsZero() {
			gap = max(gap, at.Sub(last))
		}
		last = at
	}
	if last.IsZero() {
		return until.Sub(since)
	}
	return max(gap, until.Sub(last))
}

// vantageZone is a zone of one probed pool, vp, of the backends, probed
// with probe (interval, timeout, rise, fall); registrations go to pool
// dyn, probed alike.
func vantageZone(bs []*vbackend, probe string) string {
	z := `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL vp policy=rr ttl=1 answers=16 probe=http:/healthz ` + probe + `
$POOL dyn policy=rr ttl=1 answers=3 probe=http:/healthz ` + probe + `
`
	for i, b := range bs {
		z += fmt.Sprintf("vp     PE %s name=b%d\n", b.addr, i+1)
	}
	return z
}

// vpAddrs are the backends' addresses, sorted, as DNS answers them.
func vpAddrs(bs []*vbackend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.addr.Addr().String())
	}
	slices.Sort(out)
	return out
}

// startVantageCluster starts three registrars, each probing from its own
// address and with the flags args, serving a pool of n backends on
// 127.0.1.1…n, and waits until each answers every vbackend.
func startVantageCluster(t *testing.T, n int, probe string, args ...string) ([]*peer, []*vbackend) {
	t.Helper()
	var bs []*vbackend
	for i := range n {
		bs = append(bs, newVBackend(t, fmt.Sprintf("127.0.1.%d", i+1)))
	}
	ps := peeringCluster(t, vantageZone(bs, probe))
	startPeersWith(t, ps, func(p *peer) *daemonProc {
		return startDaemon(t, p.dir, append([]string{"--probe.source=" + p.ip, "--http.token=" + adminToken}, args...)...)
	})
	for _, p := range ps {
		waitAnswer(t, p.name, p.dns, "vp.pool.example.", vpAddrs(bs))
	}
	return ps, bs
}

// waitElement waits until cond holds of p's view of element label of
// pool, up to waitLimit, and returns it.
func waitElement(t *testing.T, p *peer, pool, label, what string, cond func(httpapi.ElementJSON) bool) httpapi.ElementJSON {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		e, ok := p.element(t, pool, label)
		if ok && cond(e) {
			return e
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%s: %s's %s is %+v", what, p.name, label, e)
		}
	}
}

// TestPeeringDisputed: the home of an element that its own probes cannot
// reach (the vbackend refuses its address only) does not take it out of
// anyone's answers: its two vantage points reach it, so it stays up,
// disputed; every registrar still answers it, the home last; the API,
// poolnsd status and the metrics say who sees what. When nobody reaches
// it, it goes down everywhere, agreed; when everyone does again, it comes
// back.
func TestPeeringDisputed(t *testing.T) {
	t.Parallel()
	// Timeouts generous enough for a loaded machine: a vantage point's
	// probe that times out would make the dispute an agreement.
	ps, bs := startVantageCluster(t, 3, "interval=500ms timeout=400ms rise=2 fall=2")
	b1 := bs[0]
	first := ps[0].mustElement(t, "vp.pool.example.", "b1")
	var home *peer
	for _, p := range ps {
		if handlespace.IDString(p.id) == first.Home {
			home = p
		}
	}
	if home == nil {
		t.Fatalf("b1's home %s is none of the three", first.Home)
	}
	all := vpAddrs(bs)
	w := watch([]string{ps[0].dns, ps[1].dns, ps[2].dns}, map[string][]string{"vp.pool.example.": all})
	from := home.p.cursor()
	b1.setRefused(home.ip)
	home.p.waitLog(from, "the home's warning", msgIs("health disputed: the vantage points disagree; the element stays in the answers, last where it is out of reach"))
	for _, p := range ps {
		e := waitElement(t, p, "vp.pool.example.", "b1", "disputed", func(e httpapi.ElementJSON) bool { return e.Disputed })
		if e.Health != "up" || !e.Served || e.Last != (p == home) || len(e.Vantage) != 3 {
			t.Errorf("%s: b1 %s served %v last %v vantage %v; want up, served, last at the home only, 3 views", p.name, e.Health, e.Served, e.Last, e.Vantage)
		}
		for _, v := range e.Vantage {
			if want := map[bool]string{true: "down", false: "up"}[v.Registrar == handlespace.IDString(home.id)]; v.Health != want {
				t.Errorf("%s: %s saw %s, want %s", p.name, v.Registrar, v.Health, want)
			}
		}
	}
	// In every registrar's answers; last in the home's.
	for q := 0; q < 10; q++ {
		got, err := orderedAnswer(home.dns, "vp.pool.example.")
		if err != nil || len(got) != 3 || got[2] != b1.addr.Addr().String() {
			t.Fatalf("the home answers %v %v, want all three with b1 last", got, err)
		}
	}
	n, gaps := w.end()
	if len(gaps) > 0 {
		t.Errorf("%d of %d answers lacked an element while the home could not reach b1:\n%s", len(gaps), n, strings.Join(gaps, "\n"))
	}
	out, stderr, code := runPoolnsd(t, home.dir, "status", "--server", "http://"+home.http, "--problems")
	if code != exitOK || !strings.Contains(out, "up (disputed)") || !strings.Contains(out, "b1 is disputed: ") || !strings.Contains(out, handlespace.IDString(home.id)+" (here) sees it down") ||
		!strings.Contains(out, "last in this registrar's answers") {
		t.Errorf("poolnsd status at the home: exit %d\n%s%s", code, out, stderr)
	}
	s, _, err := metricstest.Scrape(http.DefaultClient, "http://"+home.http+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	s.Expect(t, "poolnsd_elements_disputed 1", "poolnsd_elements_last 1",
		"poolnsd_element_vantage{element="+first.ID+",health=down,pool=vp.pool.example.,registrar="+handlespace.IDString(home.id)+"} 1")
	if v, _ := s.Value("poolnsd_health_confirmations_total", "outcome=overruled"); v < 1 {
		t.Errorf("the home's overruled confirmations: %v", v)
	}
	var probedForPeers float64
	for _, p := range ps {
		if p == home {
			continue
		}
		ps, _, err := metricstest.Scrape(http.DefaultClient, "http://"+p.http+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := ps.Value("poolnsd_health_peer_probes_total", "result=up")
		probedForPeers += v
	}
	if probedForPeers < 2 {
		t.Errorf("the vantage points probed b1 %v times for the home, want at least one each", probedForPeers)
	}

	// Nobody reaches it: down everywhere, no longer disputed.
	b1.setRefused("*")
	rest := slices.DeleteFunc(slices.Clone(all), func(a string) bool { return a == b1.addr.Addr().String() })
	for _, p := range ps {
		waitElement(t, p, "vp.pool.example.", "b1", "down, agreed", func(e httpapi.ElementJSON) bool { return e.Health == "down" && !e.Disputed })
		waitAnswer(t, p.name, p.dns, "vp.pool.example.", rest)
	}
	// Everyone again: back.
	b1.setRefused()
	for _, p := range ps {
		waitElement(t, p, "vp.pool.example.", "b1", "back up", func(e httpapi.ElementJSON) bool { return e.Health == "up" && !e.Disputed })
		waitAnswer(t, p.name, p.dns, "vp.pool.example.", all)
	}
	b1.mu.Lock()
	t.Logf("b1 was probed from %v", b1.sources)
	b1.mu.Unlock()
}

// agreedShares waits until every peer of ps names the same home for
// each element of pool vp, and returns the labels of each one's share.
func agreedShares(t *testing.T, ps []*peer) map[*peer][]string {
	t.Helper()
	var shares map[*peer][]string
	waitUntil(t, "the peers to agree on the homes", func() bool {
		homes := map[string]string{}
		for i, p := range ps {
			es := poolElements(t, "http://"+p.http, "vp.pool.example.")
			if i > 0 && len(es) != len(homes) {
				return false
			}
			for _, e := range es {
				if h, ok := homes[e.Label]; i > 0 && (!ok || h != e.Home) {
					return false
				}
				homes[e.Label] = e.Home
			}
		}
		shares = map[*peer][]string{}
		for _, p := range ps {
			for label, h := range homes {
				if h == handlespace.IDString(p.id) {
					shares[p] = append(shares[p], label)
				}
			}
			slices.Sort(shares[p])
		}
		return true
	})
	return shares
}

// firstAnswer is answerOf's first reply that is not held (errHeld): a
// registrar starved of CPU holds its answers for a moment, as the
// watcher allows (seen at load 37: a restarted A, stalled 242 ms right
// after it was ready). It asks every 20 ms, up to waitLimit.
func firstAnswer(addr, name string) (got []string, err error) {
	poll(20*time.Millisecond, func() bool {
		got, err = answerOf(addr, name)
		return !errors.Is(err, errHeld)
	})
	return got, err
}

// orderedAnswer returns the A addresses of name at addr in answer order.
func orderedAnswer(addr, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, err := nettest.Exchange(nil, m, addr)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out, nil
}

// TestPeeringHandoff: SIGTERM to a registrar with live peers hands what it
// is home for (its share of the zone-file elements, a registration) to
// the other two, which take them with their health and probe them from
// then on: no answer of theirs lacks an element, no element goes unprobed
// for long, nobody takes anything over afterwards, and the registrar exits
// within enrp.handoff_timeout. Restarted, it takes its share back with the
// health the others measured meanwhile.
func TestPeeringHandoff(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	// No backend fails here: fall only decides how long the backends
	// (this test's process) may be starved before probes that time out
	// take one out. With fall=2 about 350 ms did (two probes 200 ms
	// apart, 150 ms each), on a loaded machine: B and C dropped an
	// element from their answers during the hand-off (1 of 10 runs at
	// load 12-18). fall=10 takes 2 s of failed probes.
	handoff := "--enrp.handoff_timeout=" + ptHandoffTimeout.String()
	ps, bs := startVantageCluster(t, 15, "interval=200ms timeout=150ms rise=2 fall=10", handoff)
	// The three take their shares back from each other as they come up
	// (handback); under load that was still going on at the SIGTERM, and
	// its silence was counted as the hand-off's below. So: wait until
	// they agree on every home. A is then the one home of the most
	// elements, at least 5 of the 15 (a fixed one was home of none with
	// probability (2/3)^15, 0.2 %: seen once in 60 runs).
	shares := agreedShares(t, ps)
	agreed := time.Now()
	a := slices.MaxFunc(ps, func(p, q *peer) int { return cmp.Compare(len(shares[p]), len(shares[q])) })
	rest := slices.DeleteFunc(slices.Clone(ps), func(p *peer) bool { return p == a })
	b, c := rest[0], rest[1]
	mine := shares[a] // A's share of the zone-file elements
	t.Logf("A is %s (%s), home of %v; B %s, C %s", a.name, a.ip, mine, b.name, c.name)
	reg := newVBackend(t, "127.0.2.1")
	key := keyFile(t, a.dir, "pe-key", regSecret)
	if out, err := nsupdate(t, a.dns, key,
		fmt.Sprintf("update add r1.dyn.pool.example. 60 SRV 0 1 %d r1.dyn.pool.example.", reg.addr.Port()),
		"update add r1.dyn.pool.example. 60 A "+reg.addr.Addr().String()); err != nil {
		t.Fatalf("nsupdate at A: %v\n%s", err, out)
	}
	want := map[string][]string{"vp.pool.example.": vpAddrs(bs), "dyn.pool.example.": {reg.addr.Addr().String()}}
	for _, p := range ps {
		for name, addrs := range want {
			waitAnswer(t, p.name, p.dns, name, addrs)
		}
	}
	// Silences count from when A has probed each of its share itself.
	for _, label := range mine {
		i, _ := strconv.Atoi(strings.TrimPrefix(label, "b"))
		waitUntil(t, "A's first probe of its "+label, func() bool { return bs[i-1].probedFrom(a.ip, agreed) })
	}
	settled, ca := time.Now(), a.p.cursor()
	w := watch([]string{b.dns, c.dns}, want)
	cb, cc := b.p.cursor(), c.p.cursor()
	stopped := time.Now()
	a.p.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.p.waitExit(waitLimit); code != exitOK {
		t.Fatalf("A exited %d", code)
	}
	took := time.Since(stopped)
	r, _ := a.p.waitLog(0, "A's hand-off", msgIs("handed off"))
	for _, p := range []*peer{b, c} {
		p.p.waitLog(map[*peer]int{b: cb, c: cc}[p], p.name+" taking A's hand-off", eventIs("handoff-in", "peer", handlespace.IDString(a.id), "detail", "leaving"))
	}
	// The registration and A's share, homed at B or C, up, probed there.
	for _, p := range []*peer{b, c} {
		for _, label := range mine {
			waitElement(t, p, "vp.pool.example.", label, "re-homed", func(e httpapi.ElementJSON) bool {
				return e.Home != handlespace.IDString(a.id) && e.Health == "up"
			})
		}
		waitElement(t, p, "dyn.pool.example.", "r1", "re-homed", func(e httpapi.ElementJSON) bool {
			return e.Home != handlespace.IDString(a.id) && e.Health == "up"
		})
	}
	probedAfter := time.Now()
	// Probed all along: the longest silence of an element that A handed
	// off, around the hand-off, against that of the others, which stayed
	// where they were (a stall of the machine shows in both).
	handed, control := time.Duration(0), time.Duration(0)
	since := stopped.Add(-time.Second)
	if since.Before(settled) {
		since = settled
	}
	for i, be := range append(slices.Clone(bs), reg) {
		g := be.maxGap(since, probedAfter)
		if i == len(bs) || slices.Contains(mine, fmt.Sprintf("b%d", i+1)) {
			handed = max(handed, g)
		} else {
			control = max(control, g)
		}
	}
	// A starved of CPU probes nothing meanwhile, and the others' silence
	// does not show it: A's own stalls (its ENRP loop reports them) count
	// on top. Seen at load 37: A stalled 699 ms while it handed off, its
	// share went unprobed for 738 ms, the others for 418 ms.
	var stalled time.Duration
	for _, r := range a.p.Records(ca, a.p.cursor()) {
		if r.Str("event") == "stalled" {
			d, _ := time.ParseDuration(r.Str("detail"))
			stalled += d
		}
	}
	if handed > control+stalled+200*time.Millisecond {
		t.Errorf("an element A handed off went unprobed for %v around the hand-off, one that stayed for %v, A stalled for %v (interval 200 ms)", handed, control, stalled)
	}
	// Nobody suspects A or takes anything over from it within the time
	// that a silent peer takes to be found dead (and a little more). Of
	// A only: B and C starved for over a second (load 30) suspect each
	// other, as they should.
	aID := handlespace.IDString(a.id)
	suspect := func(r logRec) bool {
		return (r.Str("event") == "takeover-start" || r.Str("event") == "peer-suspect") && (r.Str("peer") == aID || r.Str("target") == aID)
	}
	for _, p := range []*peer{b, c} {
		from := map[*peer]int{b: cb, c: cc}[p]
		if r, _, err := p.p.Wait(from, ptLastHeard+ptNoResponse+500*time.Millisecond, suspect); err != proctest.ErrTimeout {
			t.Errorf("%s after A's hand-off: %v %v", p.name, r, err)
		}
	}
	n, gaps := w.end()
	if len(gaps) > 0 {
		t.Errorf("%d of %d answers of B and C lacked an element during and after the hand-off:\n%s", len(gaps), n, strings.Join(gaps, "\n"))
	}
	t.Logf("A: SIGTERM to exit %v (hand-off %v, enrp.handoff_timeout %v); B and C answered %d times without a gap; longest silence of an element handed off %v, of the others %v (interval 200 ms)",
		took.Round(time.Millisecond), r.Str("took"), ptHandoffTimeout, n, handed.Round(time.Millisecond), control.Round(time.Millisecond))
	if took > ptHandoffTimeout {
		t.Errorf("SIGTERM to exit took %v, want at most enrp.handoff_timeout, %v", took, ptHandoffTimeout)
	}

	// A restarts: its share comes back, up (the others' health), and A
	// answers everything at once.
	cb, cc = b.p.cursor(), c.p.cursor()
	restartPeer(t, a, func(p *peer) *daemonProc {
		return startDaemon(t, p.dir, "--probe.source="+p.ip, "--http.token="+adminToken, handoff)
	})
	dnsAddr, _ := a.p.ready()
	if got, err := firstAnswer(dnsAddr, "vp.pool.example."); err != nil || !slices.Equal(got, want["vp.pool.example."]) {
		t.Errorf("restarted A's first answer: %v %v, want every vbackend", got, err)
	}
	a.p.waitLog(0, "A synced before serving", msgIs("synced with a peer"))
	for _, label := range mine {
		waitElement(t, a, "vp.pool.example.", label, "back home", func(e httpapi.ElementJSON) bool {
			return e.Home == handlespace.IDString(a.id) && e.Health == "up"
		})
	}
	_ = cb
	_ = cc
}
