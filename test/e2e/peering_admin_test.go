package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/proctest"
	"github.com/poolnsd/poolnsd/store"
)

const adminToken = "admin-test-token"

// adminOf asks p's API for the home and admin state of element label of
// pool.
func (p *peer) adminOf(t *testing.T, pool, label string) (id, home, admin string) {
	t.Helper()
	e := p.mustElement(t, pool, label)
	return e.ID, e.Home, e.Admin
}

// waitDig runs the real dig at each of ps until it answers name with want
// (sorted A addresses), up to limit.
func waitDig(t *testing.T, ps []*peer, name string, want []string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for _, p := range ps {
		for i := 0; ; i++ {
			got := dig(t, p.dns, "+short", name, "A")
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) || i > 1000 {
				t.Fatalf("%s answers %s with %v, want %v (after %v)", p.name, name, got, want, limit)
			}
			tick := time.NewTimer(20 * time.Millisecond)
			<-tick.C
		}
	}
}

// TestPeeringAdminAtNonHome: three poolnsd peering over TLS; a
// registration at A is drained with `poolnsd drain` at B: the command
// returns once B's view shows A's change, and dig at A, B and C leaves it
// out within a bounded wait. PUT …/admin auto at C gives it back
// everywhere; drained again at C, A is killed (SIGKILL): after the
// takeover the new home still has it drained (dig at B and C), and keeps
// the drain in its store.
func TestPeeringAdminAtNonHome(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	ps := peeringCluster(t, peeringZone)
	a, b, c := ps[0], ps[1], ps[2]
	startPeers(t, ps, "--http.token="+adminToken)
	key := keyFile(t, a.dir, "pe-key", regSecret)
	if out, err := nsupdate(t, a.dns, key,
		"update add pe7.reg.pool.example. 300 SRV 0 1 80 pe7.reg.pool.example.",
		"update add pe7.reg.pool.example. 300 A 192.0.2.7",
		"update add pe8.reg.pool.example. 300 SRV 0 1 80 pe8.reg.pool.example.",
		"update add pe8.reg.pool.example. 300 A 192.0.2.8"); err != nil {
		t.Fatalf("nsupdate at A: %v\n%s", err, out)
	}
	const pool = "reg.pool.example."
	both, only8 := []string{"192.0.2.7", "192.0.2.8"}, []string{"192.0.2.8"}
	waitDig(t, ps, pool, both, waitLimit)
	id, home, _ := b.adminOf(t, pool, "pe7")
	if home != handlespace.IDString(a.id) {
		t.Fatalf("pe7's home is %s, want A %s", home, handlespace.IDString(a.id))
	}

	// Drain at B with the CLI.
	out, stderr, code := runPoolnsd(t, b.dir, "drain", "--server", "http://"+b.http, "--token", adminToken, pool, "pe7")
	if code != exitOK || !strings.Contains(out, "admin drain") {
		t.Fatalf("poolnsd drain at B: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// B answered once its own view had the home's change.
	if got := dig(t, b.dns, "+short", pool, "A"); !slices.Equal(got, only8) {
		t.Errorf("B answers %v right after the drain returned, want %v", got, only8)
	}
	waitDig(t, ps, pool, only8, 2*time.Second)
	a.p.waitLog(0, "A applying B's request", func(r logRec) bool {
		return r.Str("msg") == "ENRP admin request from a peer applied" && r.Str("peer") == handlespace.IDString(b.id)
	})
	for _, p := range ps {
		if _, _, adm := p.adminOf(t, pool, "pe7"); adm != "drain" {
			t.Errorf("%s says pe7 is %s, want drain", p.name, adm)
		}
	}

	// Auto at C over HTTP.
	put := func(p *peer, state string) (int, string) {
		t.Helper()
		code, b := proctest.APIDo(t, http.MethodPut, "http://"+p.http+"/v1/pools/"+pool+"/elements/pe7/admin", adminToken, `{"state":"`+state+`"}`)
		return code, string(b)
	}
	if st, body := put(c, "auto"); st != http.StatusOK || !strings.Contains(body, `"admin":"auto"`) {
		t.Fatalf("PUT auto at C: %d %s", st, body)
	}
	waitDig(t, ps, pool, both, 2*time.Second)
	if st, body := put(c, "drain"); st != http.StatusOK {
		t.Fatalf("PUT drain at C: %d %s", st, body)
	}
	waitDig(t, ps, pool, only8, 2*time.Second)

	// Kill A; the drain outlives it.
	cb, cc := b.p.cursor(), c.p.cursor()
	if err := a.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.p.waitExit(waitLimit)
	// B's connection to A is gone: a change at B is refused, naming A,
	// until a takeover gives the element a new home.
	b.p.waitLog(cb, "B losing A's connection", func(r logRec) bool {
		return r.Str("msg") == "ENRP connection down" && strings.HasPrefix(r.Str("peer"), a.ip+":")
	})
	status, body := put(b, "force-down")
	var refusal struct {
		Error string `json:"error"`
		Home  string `json:"home"`
	}
	json.Unmarshal([]byte(body), &refusal)
	tookB := logged(b.p, cb, eventIs("takeover-done"))
	tookC := logged(c.p, cc, eventIs("takeover-done"))
	switch {
	case status == http.StatusServiceUnavailable && refusal.Home == handlespace.IDString(a.id):
		t.Logf("with A gone: %d %s", status, refusal.Error)
	case tookB || tookC:
		t.Logf("the takeover came before the refusal could be seen: %d %s", status, body)
	default:
		t.Fatalf("PUT at B with A gone: %d %s, want 503 naming A", status, body)
	}
	winner := b
	if firstToLog(t, "takeover of A", eventIs("takeover-done", "target", handlespace.IDString(a.id)),
		[]*daemonProc{b.p, c.p}, []int{cb, cc}) == 1 {
		winner = c
	}
	for _, p := range []*peer{b, c} {
		if _, home, adm := p.adminOf(t, pool, "pe7"); adm != "drain" {
			t.Errorf("after the takeover %s says pe7 (home %s) is %s, want drain", p.name, home, adm)
		}
	}
	waitDig(t, []*peer{b, c}, pool, only8, 2*time.Second)
	if _, home, _ := winner.adminOf(t, pool, "pe7"); home != handlespace.IDString(winner.id) {
		t.Errorf("pe7's home after the takeover is %s, want %s", home, handlespace.IDString(winner.id))
	}
	// The new home keeps the drain in its store.
	for _, p := range []*peer{b, c} {
		p.p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.p.waitExit(waitLimit); code != 0 {
			t.Errorf("%s exited %d", p.name, code)
		}
	}
	st, err := store.Open(filepath.Join(winner.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	st.Admins(func(p string, i uint32, adm handlespace.Admin) {
		stored = append(stored, p+" "+handlespace.IDString(i)+" "+adm.String())
	})
	st.Close()
	if want := pool + " " + id + " drain"; !slices.Contains(stored, want) {
		t.Errorf("the new home %s's store has admin states %v, want %q", winner.name, stored, want)
	}
}

// logged reports whether p logged a record that match accepts after line
// from, so far.
func logged(p *daemonProc, from int, match func(logRec) bool) bool {
	return slices.ContainsFunc(p.Records(from, p.Cursor()), match)
}
