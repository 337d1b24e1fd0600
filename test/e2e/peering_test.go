package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/enrp/enrptest"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/store"
)

// peeringZone is the zone of the peering tests: a zone-file pool of six
// elements, homed by rendezvous hashing over the live registrars.
const peeringZone = `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=rr ttl=5 answers=10
web    PE 10.0.0.1:8080
web    PE 10.0.0.2:8080
web    PE 10.0.0.3:8080
web    PE 10.0.0.4:8080
web    PE 10.0.0.5:8080
web    PE 10.0.0.6:8080

; registrations go here; their home probes them (TCP connect) every 200 ms
$POOL dyn policy=rr ttl=5 answers=3 probe=tcp interval=200ms timeout=150ms rise=1 fall=2
`

// Peering timing of the process tests: a peer is dead 1 s after it was
// last heard.
const (
	ptPresence   = 250 * time.Millisecond
	ptLastHeard  = 750 * time.Millisecond
	ptNoResponse = 250 * time.Millisecond
)

// ptHandoffTimeout is enrp.handoff_timeout of the tests whose registrar
// hands off on SIGTERM and that wait for "handed off": long enough for a
// peer starved of CPU to acknowledge (the default 2 s ran out once in 30
// runs of TestPeeringHandoff at load 24-40: C, starved for about a
// second after it took the pages, acknowledged too late). These tests are
// about what is handed off, not about the timeout.
const ptHandoffTimeout = 10 * time.Second

// peer is one registrar of a peering test.
type peer struct {
	name, ip string
	dir      string
	dns      string // DNS address
	enrp     string // ENRP address
	http     string // HTTP API address
	id       uint32
	p        *daemonProc

	tls      enrptest.Files // its certificate, key and the CA's
	extra    []string       // its registration: lines
	cluster  []*peer        // every peer of its cluster, itself among them
	insecure bool           // peering over plain TCP (enrp.insecure)
}

// peeringCluster makes the working directories of registrars on 127.0.0.1,
// .2 and .3 (A, B, C), each with a certificate of one test CA for its IP
// address, the zone, and every other as a static peer.
func peeringCluster(t *testing.T, zone string, registration ...string) []*peer {
	ps, _ := peeringClusterCA(t, zone, registration...)
	return ps
}

// peeringClusterCA is peeringCluster that returns the test CA too, for
// an in-process peer.
func peeringClusterCA(t *testing.T, zone string, registration ...string) ([]*peer, *enrptest.CA) {
	ca, err := enrptest.NewCA("poolnsd test CA")
	if err != nil {
		t.Fatal(err)
	}
	var ps []*peer
	for i, name := range []string{"a", "b", "c"} {
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		p := &peer{name: name, ip: ip, dir: t.TempDir(), extra: registration}
		if p.tls, err = ca.WriteFiles(p.dir, p.name, p.ip); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p.dir, "zones/pool.example.zone", zone)
		st, err := store.Open(filepath.Join(p.dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		p.id = st.RegistrarID()
		st.Close()
		ps = append(ps, p)
	}
	for _, p := range ps {
		p.cluster = ps
	}
	newPeerPorts(t, ps)
	return ps, ca
}

// newPeerPorts gives each of ps, a cluster, new ports (FreePort's) and
// writes their configurations (writePeerConfigs).
func newPeerPorts(t *testing.T, ps []*peer) {
	t.Helper()
	for _, p := range ps {
		p.dns = fmt.Sprintf("%s:%d", p.ip, nettest.FreePort(t, p.ip))
		p.enrp = fmt.Sprintf("%s:%d", p.ip, nettest.FreePort(t, p.ip))
		p.http = fmt.Sprintf("%s:%d", p.ip, nettest.FreePort(t, p.ip))
	}
	writePeerConfigs(t, ps)
}

// writePeerConfigs writes the configuration of each of ps, a cluster: each
// names the others as static peers.
func writePeerConfigs(t *testing.T, ps []*peer) {
	t.Helper()
	for _, p := range ps {
		var peers []string
		for _, o := range ps {
			if o != p {
				peers = append(peers, fmt.Sprintf("%q", o.enrp))
			}
		}
		lines := []string{
			`dns:`,
			fmt.Sprintf(`  listen: [%q]`, p.dns),
			`  udp_sockets: 1`,
			`http:`,
			fmt.Sprintf(`  listen: %q`, p.http),
			`zones: zones`,
			`data: data`,
			`log:`,
			`  level: debug`,
			`  format: json`,
			`enrp:`,
		}
		if p.insecure {
			lines = append(lines, `  insecure: true`)
		}
		lines = append(lines,
			fmt.Sprintf(`  listen: %q`, p.enrp),
			fmt.Sprintf(`  peers: [%s]`, strings.Join(peers, ", ")),
			fmt.Sprintf(`  tls: {cert: %q, key: %q, ca: %q}`, p.tls.Cert, p.tls.Key, p.tls.CA),
			fmt.Sprintf(`  presence_interval: %v`, ptPresence),
			fmt.Sprintf(`  max_time_last_heard: %v`, ptLastHeard),
			fmt.Sprintf(`  max_time_no_response: %v`, ptNoResponse),
		)
		lines = append(lines, regConfig(append([]string{"allow_loopback: true # every registrar and element is on this host"}, p.extra...)...)...)
		writeFile(t, p.dir, "poolnsd.yaml", strings.Join(lines, "\n")+"\n")
	}
}

func eventIs(event string, kv ...string) func(logRec) bool {
	return func(r logRec) bool {
		if r.Str("event") != event {
			return false
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.Str(kv[i]) != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// errHeld is answerOf's error for a registrar that holds its answers
// (SERVFAIL with Extended DNS Error 14, Not Ready: its view may be stale,
// after a stall or a partition): a resolver asks another registrar.
var errHeld = errors.New("held: SERVFAIL, EDE 14 Not Ready")

// answerOf returns the sorted A addresses of name at addr, or the error.
func answerOf(addr, name string) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	m.SetEdns0(1232, false) // so that a held reply can say so (EDE)
	r, err := nettest.Exchange(nil, m, addr)
	if err != nil {
		return nil, err
	}
	if r.Rcode == dns.RcodeServerFailure {
		if o := r.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if ede, ok := e.(*dns.EDNS0_EDE); ok && ede.InfoCode == dns.ExtendedErrorCodeNotReady {
					return nil, errHeld
				}
			}
		}
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("%s", dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out, nil
}

// watcher asks registrars for names every 20 ms and records every answer
// that lacks what it must hold. A held reply (errHeld) is no gap, as in the
// namespace lab's checker: it tells the resolver to ask another registrar
// (a registrar starved of CPU for half a presence interval holds, as after
// a SIGSTOP); it is counted apart.
type watcher struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	n    int
	held []string
	gaps []string
}

func watch(addrs []string, want map[string][]string) *watcher {
	w := &watcher{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, a := range addrs {
				for name, addrs := range want {
					got, err := answerOf(a, name)
					w.mu.Lock()
					w.n++
					if errors.Is(err, errHeld) {
						w.held = append(w.held, fmt.Sprintf("%s %s at %s", time.Now().Format("15:04:05.000"), name, a))
					} else if err != nil || !slices.Equal(got, addrs) {
						w.gaps = append(w.gaps, fmt.Sprintf("%s %s at %s: %v %v", time.Now().Format("15:04:05.000"), name, a, got, err))
					}
					w.mu.Unlock()
				}
			}
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *watcher) end() (int, []string) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.gaps
}

// element asks p's HTTP API about element label of pool.
func (p *peer) element(t *testing.T, pool, label string) (httpapi.ElementJSON, bool) {
	t.Helper()
	for _, e := range poolElements(t, "http://"+p.http, pool) {
		if e.Label == label {
			return e, true
		}
	}
	return httpapi.ElementJSON{}, false
}

// mustElement is element, failing the test when p has no such element.
func (p *peer) mustElement(t *testing.T, pool, label string) httpapi.ElementJSON {
	t.Helper()
	e, ok := p.element(t, pool, label)
	if !ok {
		t.Fatalf("%s has no %s in %s", p.name, label, pool)
	}
	return e
}

// probeCounter is a pool element that counts the TCP connections (probes)
// it gets.
type probeCounter struct {
	ln net.Listener
	n  atomic.Int64
}

func newProbeCounter(t *testing.T) *probeCounter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc := &probeCounter{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			pc.n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return pc
}

// probedBy waits until exactly one registrar probes the element: it is the
// home at every registrar, only its API shows probes of it (since after),
// and the element gets probes at the rate of one prober (interval 200 ms:
// at most 8 in a second; two probers make 10).
func probedBy(t *testing.T, ps []*peer, home *peer, pc *probeCounter, after time.Time) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok := true
		for _, p := range ps {
			e, found := p.element(t, "dyn.pool.example.", "pe1")
			probed := e.LastProbe != nil && e.LastProbe.At.After(after)
			ok = ok && found && e.Home == handlespace.IDString(home.id) && probed == (p == home)
		}
		if ok {
			break
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			for _, p := range ps {
				e, _ := p.element(t, "dyn.pool.example.", "pe1")
				t.Logf("%s says home %s, last probe %+v", p.name, e.Home, e.LastProbe)
			}
			t.Fatalf("pe1 is not probed by %s alone", home.name)
		}
	}
	// The element's own count, over one second.
	from := pc.n.Load()
	start := time.Now()
	sec := time.NewTimer(time.Second)
	<-sec.C
	n := pc.n.Load() - from
	if n < 1 || float64(n) > 8*time.Since(start).Seconds() {
		t.Errorf("pe1 got %d probes in %v, want those of one prober every 200 ms", n, time.Since(start).Round(time.Millisecond))
	}
}

// startPeers starts a daemon for each of ps with args and waits until
// each is ready and has heard each of the others (peer-up).
func startPeers(t *testing.T, ps []*peer, args ...string) {
	t.Helper()
	startPeersWith(t, ps, func(p *peer) *daemonProc { return startDaemon(t, p.dir, args...) })
}

// startPeersWith is startPeers with start starting each peer's daemon.
// When one exits because one of its addresses was taken meanwhile
// (startedOn), each of ps is stopped, their cluster gets new ports and
// ps start again, up to startTries times. A peer started later, once
// the others know its addresses, cannot move: restartPeer starts it
// again on the same ports.
func startPeersWith(t *testing.T, ps []*peer, start func(*peer) *daemonProc) {
	t.Helper()
	for try := 1; ; try++ {
		for _, p := range ps {
			p.p = start(p)
		}
		started := true
		for _, p := range ps {
			started = p.p.startedOn() && started
		}
		if started {
			break
		}
		if try == startTries {
			t.Fatalf("the peers found an address taken %d times", try)
		}
		for _, p := range ps {
			p.p.Kill()
		}
		newPeerPorts(t, ps[0].cluster)
	}
	for _, p := range ps {
		for _, o := range ps {
			if o != p {
				p.p.waitLog(0, p.name+" hearing "+o.name, eventIs("peer-up", "peer", handlespace.IDString(o.id)))
			}
		}
	}
}

// TestPeerStartsOnOtherPorts: a peer whose HTTP port (FreePort's) a
// program took before the peer started exits with "address already in
// use"; startPeers gives the cluster new ports, writes every peer's
// configuration again and starts it, and it serves on the new ports.
func TestPeerStartsOnOtherPorts(t *testing.T) {
	t.Parallel()
	ps := peeringCluster(t, peeringZone)
	a, b := ps[0], ps[1]
	// The test holds the port's lock (FreePort): no other test binds it.
	taken, err := net.Listen("tcp", b.http)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	oldENRP := b.enrp
	startPeers(t, []*peer{b})
	if b.http == taken.Addr().String() || b.enrp == oldENRP {
		t.Fatalf("B serves HTTP on %s and ENRP on %s: the ports it had, one of them taken", b.http, b.enrp)
	}
	if got := addrsOf(t, b.dns, "web.pool.example."); len(got) != 6 {
		t.Errorf("B's answer on %s: %v, want the six elements", b.dns, got)
	}
	if es := poolElements(t, "http://"+b.http, "web.pool.example."); len(es) != 6 {
		t.Errorf("B's API on %s: %d elements, want 6", b.http, len(es))
	}
	b2, err := os.ReadFile(filepath.Join(a.dir, "poolnsd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if conf := string(b2); !strings.Contains(conf, fmt.Sprintf("%q", b.enrp)) || strings.Contains(conf, fmt.Sprintf("%q", oldENRP)) {
		t.Errorf("A's configuration does not name B's new ENRP address %s alone:\n%s", b.enrp, b2)
	}
}

// TestPeerRestartsOnItsPorts: a peer started again after a kill, whose
// addresses the others know, cannot move to other ports. A program holds
// its HTTP port at the restart, so that it exits with "address already
// in use"; restartPeer starts it again on the same ports, after the
// program let the port go (here before the second start), and it serves
// there.
func TestPeerRestartsOnItsPorts(t *testing.T) {
	t.Parallel()
	ps := peeringCluster(t, peeringZone)
	b := ps[1]
	startPeers(t, []*peer{b})
	b.p.Kill()
	dnsAddr, httpAddr, enrpAddr := b.dns, b.http, b.enrp
	// The test holds the port's lock (FreePort): no other test binds it.
	taken, err := net.Listen("tcp", b.http)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	starts := 0
	tries := restartPeer(t, b, func(p *peer) *daemonProc {
		if starts++; starts == 2 {
			taken.Close()
		}
		return startDaemon(t, p.dir)
	})
	if tries != 2 || starts != 2 {
		t.Fatalf("%d starts, %d tries; want 2: one on the taken port, one after it was let go", starts, tries)
	}
	if b.dns != dnsAddr || b.http != httpAddr || b.enrp != enrpAddr {
		t.Fatalf("B moved: DNS %s, HTTP %s, ENRP %s; it had %s, %s, %s", b.dns, b.http, b.enrp, dnsAddr, httpAddr, enrpAddr)
	}
	if got, _ := b.p.ready(); got != dnsAddr {
		t.Errorf("B serves DNS on %s, want %s", got, dnsAddr)
	}
	if got := addrsOf(t, b.dns, "web.pool.example."); len(got) != 6 {
		t.Errorf("B's answer on %s: %v, want the six elements", b.dns, got)
	}
	if es := poolElements(t, "http://"+b.http, "web.pool.example."); len(es) != 6 {
		t.Errorf("B's API on %s: %d elements, want 6", b.http, len(es))
	}
}

// TestPeeringProcesses runs three poolnsd on 127.0.0.1, .2 and .3 peering
// over TLS with certificates the test made. A registration at A (the real
// nsupdate, TSIG-signed) is answered by B and C, and probed by A alone.
// When A is killed (SIGKILL), B and C go on answering its elements without
// a gap, one of them takes the registration over within
// max_time_last_heard + max_time_no_response + 1 s and alone probes it
// after that, and A's zone-file elements move to B and C. A refresh of the
// registration at the other one makes that one its home. A restarted
// re-syncs, gives the registration up to its new home and answers the
// same as the others.
func TestPeeringProcesses(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	ps := peeringCluster(t, peeringZone)
	a, b, c := ps[0], ps[1], ps[2]
	pe := newProbeCounter(t)
	peAddr := pe.ln.Addr().(*net.TCPAddr)

	startPeers(t, ps)
	for _, p := range ps {
		p.p.waitLog(0, "peering over TLS", func(r logRec) bool { return r.Str("msg") == "peering" && r.Str("transport") == "tls" })
	}
	// Register at A.
	key := keyFile(t, a.dir, "pe-key", regSecret)
	registered := time.Now()
	if out, err := nsupdate(t, a.dns, key,
		fmt.Sprintf("update add pe1.dyn.pool.example. 60 SRV 0 1 %d pe1.dyn.pool.example.", peAddr.Port),
		"update add pe1.dyn.pool.example. 60 A 127.0.0.1"); err != nil {
		t.Fatalf("nsupdate at A: %v\n%s", err, out)
	}
	want := map[string][]string{
		"dyn.pool.example.": {"127.0.0.1"},
		"web.pool.example.": {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"},
	}
	for _, p := range ps {
		for name, addrs := range want {
			waitAnswer(t, p.name, p.dns, name, addrs)
		}
	}
	probedBy(t, ps, a, pe, registered)
	// Zone-file elements are split over the three.
	homes := 0
	for _, p := range ps {
		r, _ := p.p.waitLog(0, p.name+"'s share of the zone-file elements", func(r logRec) bool {
			return r.Str("event") == "static-homes" && strings.HasSuffix(r.Str("detail"), "live 3")
		})
		homes += int(r["count"].(float64))
	}
	if homes != 6 {
		t.Errorf("the three are home of %d zone-file elements in all, want 6", homes)
	}

	// Kill A.
	w := watch([]string{b.dns, c.dns}, want)
	cb, cc := b.p.cursor(), c.p.cursor()
	killed := time.Now()
	if err := a.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.p.waitExit(waitLimit)
	winner, loser := b, c
	if firstToLog(t, "takeover of A", eventIs("takeover-done", "target", handlespace.IDString(a.id)),
		[]*daemonProc{b.p, c.p}, []int{cb, cc}) == 1 {
		winner, loser = c, b
	}
	took := time.Since(killed)
	r, _ := winner.p.waitLog(0, "the takeover", eventIs("takeover-done"))
	if r["count"] != 1.0 {
		t.Errorf("%s took over %v elements, want A's one registration", winner.name, r["count"])
	}
	loser.p.waitLog(0, loser.name+" learning of the takeover", eventIs("taken-over", "peer", handlespace.IDString(winner.id)))
	if limit := ptLastHeard + ptNoResponse + time.Second; took > limit {
		t.Errorf("A's registration re-homed %v after the kill, want at most %v", took, limit)
	}
	for _, p := range []*peer{b, c} {
		p.p.waitLog(0, p.name+" re-homing A's zone-file elements", func(r logRec) bool {
			return r.Str("event") == "static-homes" && strings.HasSuffix(r.Str("detail"), "live 2")
		})
	}
	probedBy(t, []*peer{b, c}, winner, pe, killed)
	n, gaps := w.end()
	if len(gaps) > 0 {
		t.Errorf("%d of %d answers of B and C lacked A's elements during the takeover:\n%s", len(gaps), n, strings.Join(gaps, "\n"))
	}
	t.Logf("A killed: %s took over its registration after %v (max_time_last_heard + max_time_no_response = %v) and alone probes it; %d answers of B and C, none without A's elements; held (SERVFAIL, EDE 14): %v",
		winner.name, took.Round(time.Millisecond), ptLastHeard+ptNoResponse, n, w.held)

	// The element refreshes its lease at the other one: accepted there,
	// which becomes its home and alone probes it.
	refreshed := time.Now()
	if out, err := nsupdate(t, loser.dns, key,
		fmt.Sprintf("update add pe1.dyn.pool.example. 60 SRV 0 1 %d pe1.dyn.pool.example.", peAddr.Port),
		"update add pe1.dyn.pool.example. 60 A 127.0.0.1"); err != nil {
		t.Fatalf("nsupdate at %s: %v\n%s", loser.name, err, out)
	}
	probedBy(t, []*peer{b, c}, loser, pe, refreshed)
	winner, loser = loser, winner

	// Restart A: it re-syncs, gives the registration up (the new home's
	// ownership is generations newer) and answers the same.
	cb, cc = b.p.cursor(), c.p.cursor()
	restarted := time.Now()
	restartPeer(t, a, func(p *peer) *daemonProc { return startDaemon(t, p.dir) })
	a.p.waitLog(0, "A giving up its old registration", eventIs("ownership-lost", "peer", handlespace.IDString(winner.id)))
	for name, addrs := range want {
		waitAnswer(t, "restarted A", a.dns, name, addrs)
	}
	for p, from := range map[*peer]int{a: 0, b: cb, c: cc} {
		p.p.waitLog(from, p.name+" with A back", func(r logRec) bool {
			return r.Str("event") == "static-homes" && strings.HasSuffix(r.Str("detail"), "live 3")
		})
	}
	probedBy(t, ps, winner, pe, restarted)
	// Stop all, one after the other: each hands what it is home for to
	// those still running, so the last one stopped holds the registration
	// in its store. One that handed it off keeps it in its store (a
	// restart yields it to the newer generation at the first sync); the
	// first one stopped, which gave it up at its restart, does not.
	for _, p := range ps {
		p.p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.p.waitExit(waitLimit); code != 0 {
			t.Errorf("%s exited %d", p.name, code)
		}
	}
	for _, p := range ps {
		st, err := store.Open(filepath.Join(p.dir, "data"))
		if err != nil {
			t.Fatal(err)
		}
		var held []string
		st.Elements(func(pool string, e *handlespace.Element) error {
			held = append(held, fmt.Sprintf("%s %s home %s owner %s", pool, e.Label.String(), handlespace.IDString(e.Home), e.Owner))
			return nil
		})
		st.Close()
		want := 0
		switch p {
		case ps[len(ps)-1]:
			want = 1
		case ps[1]:
			continue // it handed the registration to the last one, or never had it
		}
		if len(held) != want {
			t.Errorf("%s's store holds %v, want %d registrations", p.name, held, want)
		} else if want == 1 && !strings.Contains(held[0], "owner tsig:pe-key.") {
			t.Errorf("%s's store holds %v, want the registration of key pe-key.", p.name, held)
		}
	}
}

// firstToLog waits up to waitLimit for the first of ps to log a record
// that match accepts, each after its line in from, and returns its index;
// the test fails if none does (what names the record).
func firstToLog(t *testing.T, what string, match func(logRec) bool, ps []*daemonProc, from []int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	first := make(chan int, len(ps))
	for i, p := range ps {
		go func() {
			if _, _, err := p.WaitContext(ctx, from[i], match); err == nil {
				first <- i
			}
		}()
	}
	select {
	case i := <-first:
		return i
	case <-ctx.Done():
		t.Fatalf("no %s within %v", what, waitLimit)
		return -1
	}
}

// waitAnswer asks addr for name every 20 ms until the answer is want, up
// to waitLimit.
func waitAnswer(t *testing.T, who, addr, name string, want []string) {
	t.Helper()
	var got []string
	var err error
	if !poll(20*time.Millisecond, func() bool {
		got, err = answerOf(addr, name)
		return err == nil && slices.Equal(got, want)
	}) {
		t.Fatalf("%s answers %s with %v %v, want %v", who, name, got, err, want)
	}
}

// poll checks cond every `every` until it holds (true) or waitLimit
// has passed (false).
func poll(every time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return false
		}
	}
	return true
}

// TestPeeringConfig: peering without TLS files is a configuration error
// naming the keys; TLS files that cannot be read stop serve with exit 2
// naming the file; enrp.insecure logs a warning at start.
func TestPeeringConfig(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone)
	_, stderr, code := runPoolnsd(t, dir, "serve", "--enrp.listen=127.0.0.1:0")
	if code != exitUsage || !strings.Contains(stderr, "enrp.tls.cert: empty; peering needs TLS") {
		t.Errorf("no TLS files: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runPoolnsd(t, dir, "serve", "--enrp.listen=127.0.0.1:0",
		"--enrp.tls.cert=nope.crt", "--enrp.tls.key=nope.key", "--enrp.tls.ca=ca.crt")
	if code != exitUsage || !strings.Contains(stderr, "nope.crt") || !strings.Contains(stderr, "cannot load the peering TLS files") {
		t.Errorf("missing TLS files: exit %d, stderr %q", code, stderr)
	}
	p := startDaemon(t, dir, "--enrp.listen=127.0.0.1:0", "--enrp.insecure")
	p.waitLog(0, "the insecure warning", func(r logRec) bool {
		return r.Str("level") == "WARN" && strings.Contains(r.Str("msg"), "without TLS")
	})
	p.ready()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(waitLimit); code != exitOK {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestPeeringLeaseAfterTakeover: a registration with a short lease at A;
// A is killed, and the registrar that takes it over expires it when its
// lease ends: it leaves every registrar's answers.
func TestPeeringLeaseAfterTakeover(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	ps := peeringCluster(t, peeringZone, "lease_min: 1s")
	a, b, c := ps[0], ps[1], ps[2]
	startPeers(t, ps)
	key := keyFile(t, a.dir, "pe-key", regSecret)
	// Lease: the SRV record's TTL, 4 s. It starts at A between sent and
	// registered: nsupdate may exit a good while after A's answer on a
	// loaded machine, so the drop is timed from sent (a drop at 4 s timed
	// from registered would look early).
	sent := time.Now()
	if out, err := nsupdate(t, a.dns, key,
		"update add pe9.reg.pool.example. 4 SRV 0 1 80 pe9.reg.pool.example.",
		"update add pe9.reg.pool.example. 4 A 192.0.2.9"); err != nil {
		t.Fatalf("nsupdate at A: %v\n%s", err, out)
	}
	registered := time.Now()
	waitAnswer(t, "C", c.dns, "reg.pool.example.", []string{"192.0.2.9"})
	cb, cc := b.p.cursor(), c.p.cursor()
	a.p.cmd.Process.Signal(syscall.SIGKILL)
	a.p.waitExit(waitLimit)
	firstToLog(t, "takeover of A", eventIs("takeover-done"), []*daemonProc{b.p, c.p}, []int{cb, cc})
	if time.Since(registered) > 3*time.Second {
		t.Fatalf("the takeover came %v after the registration: too late to see the lease end after it", time.Since(registered))
	}
	for _, p := range []*peer{b, c} {
		deadline := time.NewTimer(waitLimit)
		tick := time.NewTicker(50 * time.Millisecond)
		for {
			got, err := answerOf(p.dns, "reg.pool.example.")
			if err == nil && len(got) == 0 || err != nil && strings.Contains(err.Error(), "NXDOMAIN") {
				break
			}
			select {
			case <-tick.C:
			case <-deadline.C:
				t.Fatalf("%s still answers %v %v %v after the registration", p.name, got, err, time.Since(registered))
			}
		}
		tick.Stop()
		deadline.Stop()
		if gone := time.Since(sent); gone < 4*time.Second {
			t.Errorf("%s dropped the registration %v after it was made, before its lease of 4 s ended", p.name, gone)
		}
	}
	t.Logf("the registration left B's and C's answers %v after it was made (lease 4 s, expiry sweep every second)", time.Since(registered).Round(time.Millisecond))
}
