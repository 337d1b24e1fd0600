package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/history"
	"github.com/poolnsd/poolnsd/httpapi"
	"github.com/poolnsd/poolnsd/internal/browsertest"
	"github.com/poolnsd/poolnsd/internal/nettest"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// backendSet is TCP backends on 127.0.0.1 that accept and close
// connections: what a tcp probe passes on. stop closes one, so that its
// probes get "connection refused".
type backendSet struct {
	mu  sync.Mutex
	lns []net.Listener
	wg  sync.WaitGroup
}

func newBackends(t *testing.T, n int) *backendSet {
	b := &backendSet{}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		b.lns = append(b.lns, ln)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	t.Cleanup(func() {
		for i := range b.lns {
			b.stop(i)
		}
		b.wg.Wait()
	})
	return b
}

func (b *backendSet) port(i int) int { return b.lns[i].Addr().(*net.TCPAddr).Port }

func (b *backendSet) stop(i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lns[i].Close()
}

// TestStatusPageHistoryBrowser runs three real poolnsd peering over TLS
// (A on 127.0.0.1, B on 127.0.0.2, C on 127.0.0.3) in front of real TCP
// backends, and loads A's status page in headless chromium. The page
// draws, from the daemons' own data: the query rate of queries the test
// sent, the pool's element series and answer latency, its expected share
// of first answers (by weight), a health band per element, and the peers
// panel with B up, its RTT, the number of elements B is home for as A's
// /v1/status says, and the last sync. When a backend stops, its band
// turns red within seconds with the probe's reason on hover and its
// expected share falls to zero; when C stops (SIGTERM), the panel lists
// its hand-off; when B is killed, the panel shows it suspect or dead and
// A's takeover of B's registration. poolnsd status --peers prints the
// same. Screenshots are kept.
func TestStatusPageHistoryBrowser(t *testing.T) {
	t.Parallel()
	be := newBackends(t, 4)
	zone := fmt.Sprintf(`$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=wrr ttl=5 answers=3 probe=tcp interval=300ms timeout=250ms rise=1 fall=2
web    PE 127.0.0.1:%d name=w1 weight=1
web    PE 127.0.0.1:%d name=w2 weight=2
web    PE 127.0.0.1:%d name=w3 weight=3

$POOL dyn policy=rr ttl=5 answers=3 probe=tcp interval=200ms timeout=150ms rise=1 fall=2
`, be.port(0), be.port(1), be.port(2))
	ps := peeringCluster(t, zone)
	a, b, c := ps[0], ps[1], ps[2]
	env := []string{"POOLNSD_HTTP_TOKEN=" + regToken}
	startPeersWith(t, []*peer{a, b}, func(p *peer) *daemonProc { return startDaemonEnv(t, p.dir, env) })
	// A registration at B (homed there) on the fourth backend.
	if code, body := proctest.APIDo(t, "PUT", "http://"+b.http+"/v1/pools/dyn.pool.example./elements/r1", regToken,
		fmt.Sprintf(`{"addresses":["127.0.0.1"],"port":%d,"lease":600}`, be.port(3))); code != http.StatusCreated {
		t.Fatalf("registering r1 at B: %d %s", code, body)
	}

	// Traffic for the query rates and answer shares: 300 queries to A at
	// once, then about 50 a second until the test ends.
	ask := func() error {
		m := new(dns.Msg)
		m.SetQuestion("web.pool.example.", dns.TypeA)
		_, err := nettest.Exchange(nil, m, a.dns)
		return err
	}
	for range 300 {
		if err := ask(); err != nil {
			t.Fatalf("query: %v", err)
		}
	}
	stopAsking, asked := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(asked)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopAsking:
				return
			case <-tick.C:
				ask() // a lost query only lowers the rate
			}
		}
	}()
	t.Cleanup(func() { close(stopAsking); <-asked })

	br := browsertest.New(t, 120*time.Second)
	ctx := br.Ctx
	eval := func(js string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}
	waitFor := func(what, js string, d time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for i := 0; ; i++ {
			if v, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); v {
				return time.Since(start)
			}
			if time.Since(start) > d {
				t.Fatalf("%s: not after %v (%d checks); page errors: %v", what, d, i, br.Errors())
			}
			time.Sleep(50 * time.Millisecond) // a poll interval of the condition, not a wait for a result
		}
	}
	base := "http://" + a.http
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/")); err != nil {
		t.Fatal(err)
	}
	const web = `'section.pool[data-pool="web.pool.example."]'`
	band := func(label string) string {
		return `[...document.querySelectorAll(` + web + ` + ' svg.tl g.tl-row')].find(g => g.querySelector('text').textContent === '` + label + `')`
	}
	waitFor("web's health bands, all up", `(() => { const gs = document.querySelectorAll(`+web+` + ' svg.tl g.tl-row');
		return gs.length === 3 && [...gs].every(g => g.dataset.state === 'up') })()`, 20*time.Second)
	// The query rate: the 300 queries show as a rate above zero.
	waitFor("a query rate", `(() => { const h = window.poolnsdHistory(); return !!h && h.global.qps.some(v => v > 0) })()`, 10*time.Second)
	// A line needs two samples; on a fast machine the first rate above
	// zero can come in the page's first sample.
	waitFor("the query-rate chart's line", `(() => { const f = document.querySelector('figure.chart[data-series="qps"]');
		const l = f && f.querySelector('path.line');
		return !!l && f.querySelector('svg').dataset.points > 1 && l.getAttribute('d').length > 10 })()`, 10*time.Second)
	// Shares of first answers by weight, 1/6, 2/6, 3/6: expected, and
	// what the answers of the last 10 s or so did (wrr keeps to it).
	shares := func(kind string) map[string]float64 {
		var out map[string]float64
		v := eval(`JSON.stringify(Object.fromEntries([...document.querySelectorAll(` + web + ` + ' .share-row[data-kind="` + kind + `"] rect')].map(r =>
			[r.dataset.label, Number(r.dataset.share)])))`)
		if err := json.Unmarshal([]byte(v.(string)), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := shares("expected"); len(got) != 3 || !near(got["w1"], 1.0/6) || !near(got["w2"], 2.0/6) || !near(got["w3"], 3.0/6) {
		t.Errorf("expected shares %v, want w1 1/6, w2 2/6, w3 3/6", got)
	}
	waitFor("the recent answer shares", `document.querySelectorAll(`+web+` + ' .share-row[data-kind="recent"] rect').length === 3`, 15*time.Second)
	if got := shares("recent"); len(got) != 3 || !within(got["w1"], 1.0/6, 0.08) || !within(got["w2"], 2.0/6, 0.08) || !within(got["w3"], 3.0/6, 0.08) {
		t.Errorf("recent answer shares %v, want about w1 1/6, w2 2/6, w3 3/6", got)
	}
	waitFor("web's answer rate", `(() => { const f = document.querySelector(`+web+`).querySelector('figure.chart[data-series="pool-answers"]');
		return !!f && f.querySelector('svg').dataset.points > 1 })()`, 10*time.Second)

	// The peers panel: B up, home of as many elements as A's /v1/status
	// says, heard from within a second or so.
	bid := handlespace.IDString(b.id)
	peerRow := `document.querySelector('#peers tr[data-peer="` + bid + `"]')`
	homedAtB := func() int {
		var st httpapi.StatusJSON
		code, body := proctest.APIDo(t, "GET", base+"/v1/status", "", "")
		if code != 200 || json.Unmarshal(body, &st) != nil {
			t.Fatalf("GET /v1/status: %d %s", code, body)
		}
		n := 0
		for _, p := range st.Pools {
			for _, e := range *p.Elements {
				if e.Home == bid {
					n++
				}
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		want := homedAtB()
		ok := eval(peerRow+` !== null && `+peerRow+`.dataset.state === 'up' && `+peerRow+`.cells[5].textContent === '`+fmt.Sprint(want)+`'`) == true
		if ok && want >= 1 { // r1 at least
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peers panel: B's row %v, want up and home of %d elements", eval(peerRow+` && `+peerRow+`.textContent`), want)
		}
		time.Sleep(100 * time.Millisecond) // a poll interval of the condition
	}
	if got := eval(peerRow + `.cells[2].textContent`); got != b.enrp {
		t.Errorf("B's address %v, want %s", got, b.enrp)
	}
	if got := eval(`document.querySelector('#peers tr.self').cells[2].textContent`); got != a.enrp {
		t.Errorf("A's own address %v, want %s", got, a.enrp)
	}
	if got, _ := eval(peerRow + `.cells[3].textContent`).(string); !strings.HasSuffix(got, " ago") {
		t.Errorf("B last heard %q", got)
	}
	// B's RTT, from the peering connection (loopback: above 0, under a
	// second), in the panel and in GET /v1/peers.
	waitFor("B's RTT", peerRow+`.querySelector('td.rtt').dataset.rttMs > 0`, 10*time.Second)
	if ms, _ := eval(`Number(` + peerRow + `.querySelector('td.rtt').dataset.rttMs)`).(float64); ms <= 0 || ms >= 1000 {
		t.Errorf("B's RTT %v ms, want above 0 and under 1 s", ms)
	}
	var pr history.PeersReply
	if code, body := proctest.APIDo(t, "GET", base+"/v1/peers", "", ""); code != 200 || json.Unmarshal(body, &pr) != nil {
		t.Fatalf("GET /v1/peers: %d %s", code, body)
	}
	for _, p := range pr.Peers {
		if p.ID == bid && (p.RTTMS == nil || *p.RTTMS <= 0) {
			t.Errorf("GET /v1/peers: B has RTT %v, want one above 0", p.RTTMS)
		}
	}
	// web's answer latency, from the UDP loop's timed batches.
	waitFor("web's answer latency", `(() => { const f = document.querySelector(`+web+`).querySelector('figure.chart[data-series="pool-latency"]');
		return !!f && f.querySelector('svg').dataset.points > 0 && f.querySelector('b.chart-val').textContent.endsWith(' µs') })()`, 15*time.Second)
	br.Screenshot(t, "status-history.png")

	// w2's backend stops: its band turns red with the probe's reason, its
	// expected share falls to zero.
	be.stop(1)
	// Red, with the probe's reason on hover (a loaded machine can make a
	// probe of any element time out now and then: the test waits for
	// the state it expects rather than taking the first it sees).
	took := waitFor("w2's band red, connection refused", `(() => { const g = `+band("w2")+`; if (!g || g.dataset.state !== 'down') return false;
		const r = [...g.querySelectorAll('rect')].pop(); const tt = r.querySelector('title').textContent;
		return getComputedStyle(r).fill === 'rgb(207, 34, 46)' && tt.startsWith('w2 down') && tt.includes('–now') &&
			(tt.includes('connection refused') || tt.includes('down at its home registrar')) })()`, 15*time.Second)
	t.Logf("w2's band turned red %v after its backend stopped", took.Round(time.Millisecond))
	// [unknown (before its first probe, if a sample saw it),] up, down.
	if got, _ := eval(`[...` + band("w2") + `.querySelectorAll('rect')].map(r => r.dataset.state).join()`).(string); !strings.HasSuffix(got, "up,down") {
		t.Errorf("w2's band states %v, want …,up,down", got)
	}
	waitFor("w2's expected share gone", `[...document.querySelectorAll(`+web+` + ' .share-row[data-kind="expected"] rect')].map(r => r.dataset.label).join() === 'w1,w3'`, 15*time.Second)
	if got := shares("expected"); got["w2"] != 0 || !near(got["w1"], 0.25) || !near(got["w3"], 0.75) {
		t.Errorf("expected shares with w2 down %v, want w1 1/4, w3 3/4, no w2", got)
	}
	// Its actual share of the last 10-15 s falls to zero.
	took = waitFor("w2's recent answer share zero", `(() => { const rs = [...document.querySelectorAll(`+web+` + ' .share-row[data-kind="recent"] rect')];
		return rs.length === 2 && !rs.some(r => r.dataset.label === 'w2') })()`, 25*time.Second)
	t.Logf("w2's recent answer share fell to zero %v later", took.Round(time.Millisecond))
	if got := shares("minute"); got["w2"] == 0 {
		t.Errorf("w2 gone from the last minute's shares too soon: %v", got)
	}
	if got := eval(`document.querySelector(` + web + `).querySelector('figure.chart[data-series="pool-changes"] b.chart-val').textContent`); got == nil {
		t.Errorf("no changes chart")
	}
	// The pool's down series shows one element down.
	var h history.Reply
	if code, body := proctest.APIDo(t, "GET", base+"/v1/history?pool=web", "", ""); code != 200 || json.Unmarshal(body, &h) != nil {
		t.Fatalf("GET /v1/history: %d %s", code, body)
	} else if d := h.Pools[0].Series["down"]; d[len(d)-1] != 1 {
		t.Errorf("web's down series ends %v, want 1", d[len(d)-5:])
	}
	br.Screenshot(t, "status-history-down.png")

	// C joins (started only now, so that the checks above run on two
	// registrars, as they did before C was added), with a registration
	// that it hands off when it stops (SIGTERM).
	acur := a.p.cursor()
	restartPeer(t, c, func(p *peer) *daemonProc { return startDaemonEnv(t, p.dir, env) })
	a.p.waitLog(acur, "a hearing c", eventIs("peer-up", "peer", handlespace.IDString(c.id)))
	c.p.waitLog(0, "c hearing a", eventIs("peer-up", "peer", handlespace.IDString(a.id)))
	if code, body := proctest.APIDo(t, "PUT", "http://"+c.http+"/v1/pools/dyn.pool.example./elements/r2", regToken,
		fmt.Sprintf(`{"addresses":["127.0.0.1"],"port":%d,"lease":600}`, be.port(3))); code != http.StatusCreated {
		t.Fatalf("registering r2 at C: %d %s", code, body)
	}
	cid := handlespace.IDString(c.id)
	waitFor("C up in A's panel, with its RTT", `(() => { const r = document.querySelector('#peers tr[data-peer="`+cid+`"]');
		return !!r && r.dataset.state === 'up' && r.querySelector('td.rtt').dataset.rttMs > 0 })()`, 15*time.Second)

	// poolnsd status --peers, as a user runs it.
	out, _, code := runPoolnsd(t, t.TempDir(), "status", "--peers", "--server", a.http)
	if code != 0 || !strings.Contains(out, bid) || !strings.Contains(out, "this one") || !strings.Contains(out, " up ") ||
		!strings.Contains(out, "RTT") || !regexp.MustCompile(bid+`\s+up\s.* ago\s+[0-9.]+(µs|ms)\s`).MatchString(out) {
		t.Errorf("poolnsd status --peers: exit %d, want 0 with B's RTT\n%s", code, out)
	}
	t.Logf("poolnsd status --peers:\n%s", out)

	// C stops (SIGTERM): it hands r2 off; A shows the hand-off.
	c.p.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.p.waitExit(waitLimit); code != exitOK {
		t.Fatalf("C exited %d", code)
	}
	waitFor("C's hand-off in A's panel", `[...document.querySelectorAll('#peers .events.handovers li[data-kind="handoff-in"]')].some(l => l.textContent.includes('`+cid+`'))`, 15*time.Second)
	if got := eval(`(() => { const r = document.querySelector('#peers tr[data-peer="` + cid + `"]'); return r ? r.querySelector('td.handover').dataset.kind : 'no row' })()`); got != "handoff-in" && got != "no row" {
		t.Errorf("C's last takeover/hand-off %v, want handoff-in", got)
	}
	// The events come with the page's next poll, the peers' states with
	// the next once-a-second sample of the peer table: the row may still
	// say up when the hand-off is listed (seen on a loaded machine).
	waitFor("C left (not dead) in A's panel", `(() => { const r = document.querySelector('#peers tr[data-peer="`+cid+`"]'); return !!r && r.dataset.state === 'left' })()`, 15*time.Second)
	br.Screenshot(t, "status-history-handoff.png")
	// A planned stop is not a fault: status --peers says left, exits 0.
	out, _, code = runPoolnsd(t, t.TempDir(), "status", "--peers", "--server", a.http)
	if code != exitOK || !regexp.MustCompile(cid+`\s+left\s`).MatchString(out) {
		t.Errorf("poolnsd status --peers after C's hand-off: exit %d, want 0 with C left\n%s", code, out)
	}

	// B is killed: suspect, then dead; A takes r1 over.
	b.p.cmd.Process.Signal(syscall.SIGKILL)
	waitFor("B dead and taken over", peerRow+` !== null && `+peerRow+`.dataset.state === 'dead' &&
		document.querySelector('#peers li[data-kind="takeover-done"]') !== null`, 15*time.Second)
	// r1, and r2 if C handed it to B.
	if got, _ := eval(`document.querySelector('#peers li[data-kind="takeover-done"]').textContent`).(string); !strings.Contains(got, bid) || !regexp.MustCompile(`\([12] elements?\)`).MatchString(got) {
		t.Errorf("takeover event %q, want of %s with 1 or 2 elements", got, bid)
	}
	if got := eval(peerRow + `.querySelector('td.handover').dataset.kind`); got != "takeover-done" {
		t.Errorf("B's last takeover/hand-off %v, want takeover-done", got)
	}
	out, _, code = runPoolnsd(t, t.TempDir(), "status", "--peers", "--server", a.http)
	if code != exitDegraded || !strings.Contains(out, "dead") || !strings.Contains(out, "takeover-done of "+bid) ||
		!strings.Contains(out, "recent takeovers and hand-offs") || !strings.Contains(out, "handoff-in peer "+cid) {
		t.Errorf("poolnsd status --peers with B dead: exit %d, want %d\n%s", code, exitDegraded, out)
	}
	t.Logf("poolnsd status --peers with C gone and B dead:\n%s", out)
	br.Screenshot(t, "status-history-peer-dead.png")

	for _, u := range br.Requests() {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s, not on %s", u, base)
		}
	}
	if errs := br.Errors(); len(errs) > 0 {
		t.Errorf("page errors:\n%s", strings.Join(errs, "\n"))
	}
	t.Logf("screenshots in %s", browsertest.ArtifactDir(t))
}

func near(a, b float64) bool { return within(a, b, 1e-3) }

func within(a, b, d float64) bool { return a-b < d && b-a < d }
