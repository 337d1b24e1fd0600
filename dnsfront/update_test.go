package dnsfront

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unique"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/regcommit"
	"github.com/poolnsd/poolnsd/store"
)

// Handler-level tests of DNS UPDATE: the semantics of the sections, with
// the real registrar and a real bbolt store, the TSIG verdict of the server
// given (tsigWriter). The signatures themselves are tested over sockets in
// tsig_test.go.

var ut0 = time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)

const (
	keyAll  = "all-key."
	keyAPI  = "api-key."
	keyMore = "more-key."
)

// tsigWriter is a recorder whose request had the given TSIG verdict.
type tsigWriter struct {
	*recorder
	status error
}

func (w *tsigWriter) TsigStatus() error { return w.status }

type updFixture struct {
	hs    *handlespace.Handlespace
	store *store.Store
	reg   *regcommit.Committer
	h     *Handler

	mu  sync.Mutex
	now time.Time
}

func (f *updFixture) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *updFixture) advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	return f.now
}

func newUpdFixture(t testing.TB, cfg regcommit.Config) *updFixture {
	t.Helper()
	f := &updFixture{now: ut0}
	f.hs = newTestSpace(t)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	cfg.Now = f.Now
	cfg.Logger = discardLog()
	f.reg = regcommit.New(f.hs, st, cfg)
	t.Cleanup(f.reg.Close)
	secret := []byte("0123456789abcdef0123456789abcdef")
	f.h = NewHandler(f.hs, Config{Updates: f.reg, Logger: discardLog(), TSIG: []Key{
		{Name: keyAll, Algorithm: dns.HmacSHA256, Secret: secret},
		{Name: keyAPI, Algorithm: dns.HmacSHA512, Secret: secret, Pools: []string{"api", "dyn2.pool.test."}},
		{Name: keyMore, Algorithm: dns.HmacSHA256, Secret: secret},
	}})
	return f
}

// msg builds an UPDATE of zone pool.test.: lines of the update section
// are "+ RR" (add), "- RR" (delete that record), "-rrset NAME TYPE",
// "-name NAME"; prerequisite lines start with "?": "?yxdomain NAME",
// "?nxdomain NAME", "?yxrrset NAME TYPE", "?nxrrset NAME TYPE", "?= RR"
// (value-dependent).
func msg(t testing.TB, lines ...string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate("pool.test.")
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return r
	}
	any := func(name string, typ uint16, class uint16) dns.RR {
		return &dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: typ, Class: class}}
	}
	for _, l := range lines {
		op, rest, _ := strings.Cut(l, " ")
		f := strings.Fields(rest)
		switch op {
		case "+":
			m.Insert([]dns.RR{rr(rest)})
		case "-":
			m.Remove([]dns.RR{rr(rest)})
		case "-rrset":
			m.Ns = append(m.Ns, any(f[0], dns.StringToType[f[1]], dns.ClassANY))
		case "-name":
			m.Ns = append(m.Ns, any(f[0], dns.TypeANY, dns.ClassANY))
		case "?yxdomain":
			m.Answer = append(m.Answer, any(f[0], dns.TypeANY, dns.ClassANY))
		case "?nxdomain":
			m.Answer = append(m.Answer, any(f[0], dns.TypeANY, dns.ClassNONE))
		case "?yxrrset":
			m.Answer = append(m.Answer, any(f[0], dns.StringToType[f[1]], dns.ClassANY))
		case "?nxrrset":
			m.Answer = append(m.Answer, any(f[0], dns.StringToType[f[1]], dns.ClassNONE))
		case "?=":
			m.Used([]dns.RR{rr(rest)})
		default:
			t.Fatalf("bad line %q", l)
		}
	}
	return m
}

// pe is the registration of label.dyn (SRV and an A) with TTL ttl.
func pe(label string, port int, addr string, ttl int) []string {
	name := label + ".dyn.pool.test."
	return []string{
		fmt.Sprintf("+ %s %d IN SRV 0 0 %d %s", name, ttl, port, name),
		fmt.Sprintf("+ %s %d IN A %s", name, ttl, addr),
	}
}

// send sends m as signed by key (valid), unsigned (key ""), or with a TSIG
// verdict status.
func (f *updFixture) sendStatus(t testing.TB, m *dns.Msg, key string, status error) *dns.Msg {
	t.Helper()
	if key != "" {
		alg := dns.HmacSHA256
		if key == keyAPI {
			alg = dns.HmacSHA512
		}
		m.SetTsig(key, alg, 300, ut0.Unix())
	}
	m = wire(t, m)
	w := &tsigWriter{recorder: newRecorder(false), status: status}
	f.h.ServeDNS(w, m)
	if w.err != nil || w.n != 1 {
		t.Fatalf("reply: %d written, %v", w.n, w.err)
	}
	if w.msg.Id != m.Id || !w.msg.Response || w.msg.Opcode != dns.OpcodeUpdate {
		t.Fatalf("reply header %+v", w.msg.MsgHdr)
	}
	return w.msg
}

// wire returns m as the server gets it: packed and unpacked (which sets
// every RDLENGTH).
func wire(t testing.TB, m *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	u := new(dns.Msg)
	if err := u.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *updFixture) send(t testing.TB, m *dns.Msg, key string) *dns.Msg {
	t.Helper()
	return f.sendStatus(t, m, key, nil)
}

// state describes the pool dyn: "label:addrs:port:weight/prio" per element,
// sorted.
func (f *updFixture) state(pool string) []string {
	pv := f.hs.View().Zone("pool.test.").Pool(pool)
	if pv == nil {
		return nil
	}
	var out []string
	for _, e := range pv.Elements() {
		var as []string
		for _, a := range e.Addrs {
			as = append(as, a.String())
		}
		out = append(out, fmt.Sprintf("%s:%s:%d:%d/%d", e.Label, strings.Join(as, ","), e.Port, e.Weight, e.Priority))
	}
	slices.Sort(out)
	return out
}

func (f *updFixture) elem(pool, label string) *handlespace.Element {
	pv := f.hs.View().Zone("pool.test.").Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Label(label)
}

func rcode(m *dns.Msg) string { return dns.RcodeToString[m.Rcode] }

func TestUpdateSemantics(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	type step struct {
		name  string
		lines []string
		rcode int
		state []string // of pool dyn afterwards; nil: no pool
	}
	join := func(ls ...[]string) []string { return slices.Concat(ls...) }
	steps := []step{
		{"register", pe("pe1", 8080, "192.0.2.1", 30), dns.RcodeSuccess, []string{"pe1:192.0.2.1:8080:0/0"}},
		{"the same again (a refresh)", pe("pe1", 8080, "192.0.2.1", 30), dns.RcodeSuccess, []string{"pe1:192.0.2.1:8080:0/0"}},
		{"an AAAA more", []string{"+ pe1.dyn.pool.test. 30 IN AAAA 2001:db8::1"}, dns.RcodeSuccess, []string{"pe1:192.0.2.1,2001:db8::1:8080:0/0"}},
		{"policy parameters in TXT", []string{`+ pe1.dyn.pool.test. 30 IN TXT "weight=7 prio=2" "load=50%" "site=fra"`}, dns.RcodeSuccess,
			[]string{"pe1:192.0.2.1,2001:db8::1:8080:7/2"}},
		{"delete the A, keep the AAAA", []string{"- pe1.dyn.pool.test. 0 IN A 192.0.2.1"}, dns.RcodeSuccess, []string{"pe1:2001:db8::1:8080:7/2"}},
		{"delete the last address: refused", []string{"-rrset pe1.dyn.pool.test. AAAA"}, dns.RcodeRefused, []string{"pe1:2001:db8::1:8080:7/2"}},
		{"another SRV replaces the element's", []string{"+ pe1.dyn.pool.test. 30 IN SRV 3 4 8081 pe1.dyn.pool.test."}, dns.RcodeSuccess, []string{"pe1:2001:db8::1:8081:4/3"}},
		// weight= and prio= are the SRV record's fields: a new SRV sets them again.
		{"change the port: delete, then add", []string{"-rrset pe1.dyn.pool.test. SRV", "+ pe1.dyn.pool.test. 30 IN SRV 0 0 9090 pe1.dyn.pool.test."},
			dns.RcodeSuccess, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"SRV elsewhere: refused", []string{"+ pe2.dyn.pool.test. 30 IN SRV 0 0 80 www.example.", "+ pe2.dyn.pool.test. 30 IN A 192.0.2.2"}, dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"address without SRV: refused", []string{"+ pe2.dyn.pool.test. 30 IN A 192.0.2.2"}, dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"unknown TXT key: refused", join(pe("pe2", 80, "192.0.2.2", 30), []string{`+ pe2.dyn.pool.test. 30 IN TXT "wieght=3"`}), dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"bad TXT value: refused", join(pe("pe2", 80, "192.0.2.2", 30), []string{`+ pe2.dyn.pool.test. 30 IN TXT "load=2"`}), dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"MX at an element: refused", []string{"+ pe1.dyn.pool.test. 30 IN MX 10 mx.example."}, dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"two elements at once", join(pe("pe2", 80, "192.0.2.2", 30), pe("pe3", 80, "192.0.2.3", 30)), dns.RcodeSuccess,
			[]string{"pe1:2001:db8::1:9090:0/0", "pe2:192.0.2.2:80:0/0", "pe3:192.0.2.3:80:0/0"}},
		{"all or nothing: pe4 good, pe5 bad", join(pe("pe4", 80, "192.0.2.4", 30), []string{"+ pe5.dyn.pool.test. 30 IN A 192.0.2.5"}), dns.RcodeRefused,
			[]string{"pe1:2001:db8::1:9090:0/0", "pe2:192.0.2.2:80:0/0", "pe3:192.0.2.3:80:0/0"}},
		{"delete an SRV: deregisters", []string{"- pe2.dyn.pool.test. 0 IN SRV 0 0 80 pe2.dyn.pool.test."}, dns.RcodeSuccess,
			[]string{"pe1:2001:db8::1:9090:0/0", "pe3:192.0.2.3:80:0/0"}},
		{"delete a name: deregisters", []string{"-name pe3.dyn.pool.test."}, dns.RcodeSuccess, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"delete a name that is not there", []string{"-name nope.dyn.pool.test."}, dns.RcodeSuccess, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"delete then add in one update: a replace", join([]string{"-name pe1.dyn.pool.test."}, pe("pe1", 7000, "192.0.2.9", 30)), dns.RcodeSuccess,
			[]string{"pe1:192.0.2.9:7000:0/0"}},
		{"a zone file's element: refused", []string{"-name w1.web.pool.test."}, dns.RcodeRefused, []string{"pe1:192.0.2.9:7000:0/0"}},
		{"the pool's name: refused", []string{"+ dyn.pool.test. 30 IN A 192.0.2.7"}, dns.RcodeRefused, []string{"pe1:192.0.2.9:7000:0/0"}},
		{"a static name: refused", []string{"+ txt.pool.test. 30 IN TXT hello"}, dns.RcodeRefused, []string{"pe1:192.0.2.9:7000:0/0"}},
		{"a pool at a static name: refused", []string{"+ x.txt.pool.test. 30 IN SRV 0 0 80 x.txt.pool.test.", "+ x.txt.pool.test. 30 IN A 192.0.2.7"}, dns.RcodeRefused, []string{"pe1:192.0.2.9:7000:0/0"}},
		{"too deep: refused", []string{"+ a.b.dyn.pool.test. 30 IN A 192.0.2.7"}, dns.RcodeRefused, []string{"pe1:192.0.2.9:7000:0/0"}},
		{"outside the zone: NOTZONE", []string{"+ pe9.dyn.example.org. 30 IN A 192.0.2.7"}, dns.RcodeNotZone, []string{"pe1:192.0.2.9:7000:0/0"}},
		{"delete the last element: the pool goes", []string{"-name pe1.dyn.pool.test."}, dns.RcodeSuccess, nil},
	}
	for _, s := range steps {
		r := f.send(t, msg(t, s.lines...), keyAll)
		if r.Rcode != s.rcode {
			t.Errorf("%s: %s, want %s", s.name, rcode(r), dns.RcodeToString[s.rcode])
		}
		if got := f.state("dyn"); !slices.Equal(got, s.state) {
			t.Errorf("%s: pool dyn = %q, want %q", s.name, got, s.state)
		}
		if s.rcode == dns.RcodeSuccess && (r.IsTsig() == nil || r.IsTsig().Hdr.Name != keyAll) {
			t.Errorf("%s: reply not signed with the request's key", s.name)
		}
	}
}

func TestUpdateTXTAndPolicy(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	r := f.send(t, msg(t, append(pe("a", 80, "192.0.2.1", 30),
		`+ a.dyn.pool.test. 30 IN TXT "policy=lu" "load=0.25" "loaddeg=1%" "site=ams" "transport=udp"`)...), keyAll)
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("register with TXT: %s", rcode(r))
	}
	pv := f.hs.View().Zone("pool.test.").Pool("dyn")
	e := pv.Label("a")
	if pv.Spec.Policy != "lu" || e.Site != "ams" || e.Transport != handlespace.TransportUDP ||
		e.Load != handlespace.LoadFromFraction(0.25) || e.LoadDeg != handlespace.LoadFromFraction(0.01) {
		t.Fatalf("pool %s, element %+v", pv.Spec.Policy, e)
	}
	// Deleting one pair by value, then the whole TXT set.
	if r := f.send(t, msg(t, `- a.dyn.pool.test. 0 IN TXT "site=ams"`), keyAll); r.Rcode != dns.RcodeSuccess || f.elem("dyn", "a").Site != "" {
		t.Errorf("delete site=ams: %s, site %q", rcode(r), f.elem("dyn", "a").Site)
	}
	if r := f.send(t, msg(t, "-rrset a.dyn.pool.test. TXT"), keyAll); r.Rcode != dns.RcodeSuccess || f.elem("dyn", "a").Load != 0 {
		t.Errorf("delete TXT: %s, element %+v", rcode(r), f.elem("dyn", "a"))
	}
	// Another policy for the pool is refused (RFC 5354 inconsistent pooling policy).
	if r := f.send(t, msg(t, append(pe("b", 80, "192.0.2.2", 30), `+ b.dyn.pool.test. 30 IN TXT "policy=rr"`)...), keyAll); r.Rcode != dns.RcodeRefused {
		t.Errorf("inconsistent policy: %s", rcode(r))
	}
	// The element answers at its name and in the pool's SRV answer.
	q := query(t, f.h, "dyn.pool.test.", dns.TypeSRV, false, 1232)
	if len(q.Answer) != 1 || q.Answer[0].(*dns.SRV).Target != "a.dyn.pool.test." {
		t.Errorf("SRV answer %v", q.Answer)
	}
}

func TestUpdateForm(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	good := func() *dns.Msg { return msg(t, pe("x", 80, "192.0.2.1", 30)...) }
	for _, c := range []struct {
		name  string
		edit  func(m *dns.Msg)
		rcode int
	}{
		{"no zone", func(m *dns.Msg) { m.Question = nil }, dns.RcodeFormatError},
		{"two zones", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, dns.RcodeFormatError},
		{"zone type A", func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeA }, dns.RcodeFormatError},
		{"zone not served", func(m *dns.Msg) { m.Question[0].Name = "example.org." }, dns.RcodeNotAuth},
		{"zone class CH", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, dns.RcodeNotAuth},
		{"update class CH", func(m *dns.Msg) { m.Ns[0].Header().Class = dns.ClassCHAOS }, dns.RcodeFormatError},
		{"delete with a TTL", func(m *dns.Msg) {
			m.Ns = append(m.Ns, &dns.ANY{Hdr: dns.RR_Header{Name: "x.dyn.pool.test.", Rrtype: dns.TypeA, Class: dns.ClassANY, Ttl: 5}})
		}, dns.RcodeFormatError},
		{"add of type ANY", func(m *dns.Msg) {
			m.Ns = append(m.Ns, &dns.ANY{Hdr: dns.RR_Header{Name: "x.dyn.pool.test.", Rrtype: dns.TypeANY, Class: dns.ClassINET}})
		}, dns.RcodeFormatError},
		{"delete-one of type ANY", func(m *dns.Msg) {
			m.Ns = append(m.Ns, &dns.ANY{Hdr: dns.RR_Header{Name: "x.dyn.pool.test.", Rrtype: dns.TypeANY, Class: dns.ClassNONE}})
		}, dns.RcodeFormatError},
		{"AXFR in the update section", func(m *dns.Msg) {
			m.Ns = append(m.Ns, &dns.ANY{Hdr: dns.RR_Header{Name: "x.dyn.pool.test.", Rrtype: dns.TypeAXFR, Class: dns.ClassANY}})
		}, dns.RcodeFormatError},
		{"prerequisite with a TTL", func(m *dns.Msg) {
			m.Answer = append(m.Answer, &dns.ANY{Hdr: dns.RR_Header{Name: "x.dyn.pool.test.", Rrtype: dns.TypeANY, Class: dns.ClassANY, Ttl: 1}})
		}, dns.RcodeFormatError},
		{"prerequisite outside the zone", func(m *dns.Msg) {
			m.Answer = append(m.Answer, &dns.ANY{Hdr: dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeANY, Class: dns.ClassANY}})
		}, dns.RcodeNotZone},
		{"prerequisite of class CH", func(m *dns.Msg) {
			m.Answer = append(m.Answer, &dns.ANY{Hdr: dns.RR_Header{Name: "x.dyn.pool.test.", Rrtype: dns.TypeANY, Class: dns.ClassCHAOS}})
		}, dns.RcodeFormatError},
		{"EDNS version 1", func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }, dns.RcodeBadVers},
	} {
		m := good()
		c.edit(m)
		r := f.send(t, m, keyAll)
		if r.Rcode != c.rcode {
			t.Errorf("%s: %s, want %s", c.name, rcode(r), dns.RcodeToString[c.rcode])
		}
		if f.state("dyn") != nil {
			t.Fatalf("%s: the malformed update changed the pool: %q", c.name, f.state("dyn"))
		}
	}
	// A TSIG record anywhere but last in the additional section.
	m := good()
	m.SetTsig(keyAll, dns.HmacSHA256, 300, ut0.Unix())
	m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{1, 2, 3, 4}})
	w := &tsigWriter{recorder: newRecorder(false)}
	f.h.ServeDNS(w, wire(t, m))
	if w.msg == nil || w.msg.Rcode != dns.RcodeFormatError || f.state("dyn") != nil {
		t.Errorf("TSIG not last: %v", w.msg)
	}
}

func TestUpdateAuthorisation(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	// Unsigned: refused, nothing changes.
	if r := f.send(t, msg(t, pe("x", 80, "192.0.2.1", 30)...), ""); r.Rcode != dns.RcodeRefused || f.state("dyn") != nil {
		t.Errorf("unsigned: %s, pool %q", rcode(r), f.state("dyn"))
	}
	// TSIG failures: NOTAUTH with the TSIG error; BADTIME signed with the
	// server's time, the others not.
	for _, c := range []struct {
		status error
		code   uint16
	}{
		{tsigkey.ErrBadSig, dns.RcodeBadSig}, {tsigkey.ErrBadKey, dns.RcodeBadKey}, {dns.ErrTime, dns.RcodeBadTime}, {tsigkey.ErrBadTrunc, dns.RcodeBadTrunc},
	} {
		r := f.sendStatus(t, msg(t, pe("x", 80, "192.0.2.1", 30)...), keyAll, c.status)
		ts := r.IsTsig()
		if r.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != c.code {
			t.Errorf("TSIG %v: %s, TSIG %v; want NOTAUTH, %s", c.status, rcode(r), ts, dns.RcodeToString[int(c.code)])
			continue
		}
		if c.code == dns.RcodeBadTime && ts.OtherLen != 6 {
			t.Errorf("BADTIME without the server's time: %v", ts)
		}
		if (c.code == dns.RcodeBadSig || c.code == dns.RcodeBadKey) && ts.MACSize != 0 {
			t.Errorf("%s reply carries a MAC", dns.RcodeToString[int(c.code)])
		}
		if f.state("dyn") != nil {
			t.Fatalf("a TSIG failure changed the pool")
		}
	}
	// A key limited to pools: refused elsewhere, allowed there.
	if r := f.send(t, msg(t, pe("x", 80, "192.0.2.1", 30)...), keyAPI); r.Rcode != dns.RcodeRefused || f.state("dyn") != nil {
		t.Errorf("limited key outside its pools: %s", rcode(r))
	}
	m := msg(t, "+ x.dyn2.pool.test. 30 IN SRV 0 0 80 x.dyn2.pool.test.", "+ x.dyn2.pool.test. 30 IN A 192.0.2.1")
	if r := f.send(t, m, keyAPI); r.Rcode != dns.RcodeSuccess || f.state("dyn2") == nil {
		t.Errorf("limited key in its pool: %s", rcode(r))
	}
	// One key's element is not another's.
	if r := f.send(t, msg(t, "-name x.dyn2.pool.test."), keyAll); r.Rcode != dns.RcodeRefused || f.state("dyn2") == nil {
		t.Errorf("another key deletes: %s", rcode(r))
	}
}

func TestUpdateLeases(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{LeaseDefault: 60 * time.Second, LeaseMin: 5 * time.Second, LeaseMax: time.Hour})
	withLease := func(m *dns.Msg, lease, keyLease uint32) *dns.Msg {
		m.SetEdns0(1232, false)
		o := m.IsEdns0()
		o.Option = append(o.Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: lease, KeyLease: keyLease})
		return m
	}
	granted := func(r *dns.Msg) (uint32, uint32, bool) {
		if o := r.IsEdns0(); o != nil {
			for _, x := range o.Option {
				if ul, ok := x.(*dns.EDNS0_UL); ok {
					return ul.Lease, ul.KeyLease, true
				}
			}
		}
		return 0, 0, false
	}
	for _, c := range []struct {
		name       string
		m          *dns.Msg
		want       time.Duration
		echo       bool
		wantKeyLse uint32
	}{
		{"UPDATE-LEASE", withLease(msg(t, pe("a", 80, "192.0.2.1", 30)...), 20, 0), 20 * time.Second, true, 0},
		{"UPDATE-LEASE below the minimum", withLease(msg(t, pe("b", 80, "192.0.2.2", 30)...), 1, 0), 5 * time.Second, true, 0},
		{"UPDATE-LEASE above the maximum, with KEY-LEASE", withLease(msg(t, pe("c", 80, "192.0.2.3", 30)...), 999999, 999999), time.Hour, true, 3600},
		{"SRV TTL", msg(t, pe("d", 80, "192.0.2.4", 45)...), 45 * time.Second, false, 0},
		{"SRV TTL 0: the default", msg(t, pe("e", 80, "192.0.2.5", 0)...), 60 * time.Second, false, 0},
	} {
		r := f.send(t, c.m, keyAll)
		if r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: %s", c.name, rcode(r))
			continue
		}
		label := strings.Split(c.m.Ns[0].Header().Name, ".")[0]
		e := f.elem("dyn", label)
		if e.Lease != c.want || !e.Expires.Equal(ut0.Add(c.want)) {
			t.Errorf("%s: lease %v expiring %v, want %v", c.name, e.Lease, e.Expires, c.want)
		}
		l, kl, ok := granted(r)
		if ok != c.echo || (ok && (time.Duration(l)*time.Second != c.want || kl != c.wantKeyLse)) {
			t.Errorf("%s: reply lease option %v %d %d, want %v %v", c.name, ok, l, kl, c.echo, c.want)
		}
	}
	// A TXT-only update refreshes with the element's lease.
	f.advance(10 * time.Second)
	if r := f.send(t, msg(t, `+ d.dyn.pool.test. 30 IN TXT "weight=3"`), keyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(rcode(r))
	}
	if e := f.elem("dyn", "d"); e.Lease != 45*time.Second || !e.Expires.Equal(ut0.Add(55*time.Second)) || e.Weight != 3 {
		t.Errorf("after a TXT update: %+v", e)
	}
	// Expiry on the fake clock: a (20 s) and b (5 s) have run out at +20 s.
	n := f.reg.Sweep(ut0.Add(20 * time.Second))
	if n != 2 || f.elem("dyn", "a") != nil || f.elem("dyn", "b") != nil || f.elem("dyn", "d") == nil {
		t.Errorf("sweep at +20s removed %d: %q", n, f.state("dyn"))
	}
	var stored []string
	f.store.Elements(func(_ string, e *handlespace.Element) error { stored = append(stored, e.Label); return nil })
	slices.Sort(stored)
	if !slices.Equal(stored, []string{"c", "d", "e"}) {
		t.Errorf("store after the sweep: %q", stored)
	}
	// And the pool's answers no longer carry them.
	q := query(t, f.h, "dyn.pool.test.", dns.TypeA, false, 1232)
	for _, rr := range q.Answer {
		if a := rr.(*dns.A).A.String(); a == "192.0.2.1" || a == "192.0.2.2" {
			t.Errorf("expired element %s still answered", a)
		}
	}
}

func TestUpdateQuotasAndRate(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{MaxPerOwner: 2, Rate: 1, Burst: 5})
	var rcodes []string
	for i := 0; i < 6; i++ {
		r := f.send(t, msg(t, pe(fmt.Sprintf("q%d", i), 80, fmt.Sprintf("192.0.2.%d", i+1), 30)...), keyAll)
		rcodes = append(rcodes, rcode(r))
	}
	// Two registrations, one over the key's quota, then at the burst's end
	// two refused by the rate limit.
	if want := []string{"NOERROR", "NOERROR", "REFUSED", "REFUSED", "REFUSED", "REFUSED"}; !slices.Equal(rcodes, want) {
		t.Errorf("rcodes %q, want %q", rcodes, want)
	}
	if got := f.state("dyn"); len(got) != 2 {
		t.Errorf("pool dyn %q, want 2 elements", got)
	}
}

func TestPrerequisites(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	if r := f.send(t, msg(t, append(pe("p1", 80, "192.0.2.1", 30), `+ p1.dyn.pool.test. 30 IN TXT "weight=4"`)...), keyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(rcode(r))
	}
	for _, c := range []struct {
		pre   string
		rcode int
	}{
		{"?yxdomain p1.dyn.pool.test.", dns.RcodeSuccess},
		{"?yxdomain p9.dyn.pool.test.", dns.RcodeNameError},
		{"?nxdomain p9.dyn.pool.test.", dns.RcodeSuccess},
		{"?nxdomain p1.dyn.pool.test.", dns.RcodeYXDomain},
		{"?yxrrset p1.dyn.pool.test. SRV", dns.RcodeSuccess},
		{"?yxrrset p1.dyn.pool.test. AAAA", dns.RcodeNXRrset},
		{"?nxrrset p1.dyn.pool.test. AAAA", dns.RcodeSuccess},
		{"?nxrrset p1.dyn.pool.test. A", dns.RcodeYXRrset},
		{"?= p1.dyn.pool.test. 0 IN A 192.0.2.1", dns.RcodeSuccess},
		{"?= p1.dyn.pool.test. 0 IN A 192.0.2.2", dns.RcodeNXRrset},
		{"?= p1.dyn.pool.test. 0 IN SRV 0 4 80 p1.dyn.pool.test.", dns.RcodeSuccess},
		{`?= p1.dyn.pool.test. 0 IN TXT "weight=4"`, dns.RcodeNXRrset}, // weight 4 lives in the SRV record
		{"?= txt.pool.test. 0 IN TXT hello", dns.RcodeSuccess},         // a zone file's record
		{"?= txt.pool.test. 0 IN TXT bye", dns.RcodeNXRrset},
		{"?yxdomain web.pool.test.", dns.RcodeSuccess}, // a pool's name holds its answers
		{"?yxrrset web.pool.test. A", dns.RcodeSuccess},
		{"?nxdomain nothing.pool.test.", dns.RcodeSuccess},
		{"?yxdomain b.deep.pool.test.", dns.RcodeNameError}, // an empty non-terminal is not in use
	} {
		// The update itself changes p2, so that success shows.
		m := msg(t, append([]string{c.pre}, pe("p2", 81, "192.0.2.9", 30)...)...)
		r := f.send(t, m, keyAll)
		if r.Rcode != c.rcode {
			t.Errorf("%s: %s, want %s", c.pre, rcode(r), dns.RcodeToString[c.rcode])
		}
		has := f.elem("dyn", "p2") != nil
		if has != (c.rcode == dns.RcodeSuccess) {
			t.Errorf("%s: p2 registered = %v", c.pre, has)
		}
		if has {
			if r := f.send(t, msg(t, "-name p2.dyn.pool.test."), keyAll); r.Rcode != dns.RcodeSuccess {
				t.Fatal(rcode(r))
			}
		}
	}
	// The typical use: register only if the name is free.
	m := msg(t, append([]string{"?nxdomain p1.dyn.pool.test."}, pe("p1", 99, "192.0.2.99", 30)...)...)
	if r := f.send(t, m, keyAll); r.Rcode != dns.RcodeYXDomain || f.elem("dyn", "p1").Port != 80 {
		t.Errorf("conditional registration of a taken name: %s", rcode(r))
	}
}

// TestUpdateNotImplemented: without an Updater, UPDATE gets NOTIMP.
func TestUpdateNotImplemented(t *testing.T) {
	h := NewHandler(newTestSpace(t), Config{Logger: discardLog()})
	w := newRecorder(false)
	h.ServeDNS(w, wire(t, msg(t, pe("x", 80, "192.0.2.1", 30)...)))
	if w.msg.Rcode != dns.RcodeNotImplemented {
		t.Errorf("UPDATE without an updater: %s", rcode(w.msg))
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestElementWireKept: a change of one element of a pool packs that element
// again, not the pool; a change of the pool's TTL packs every element anew.
func TestElementWireKept(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	if r := f.send(t, msg(t, append(pe("k1", 80, "192.0.2.1", 30), pe("k2", 80, "192.0.2.2", 30)...)...), keyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(rcode(r))
	}
	pool := func() *handlespace.PoolView { return f.hs.View().Zone("pool.test.").Pool("dyn") }
	pv1 := pool()
	w1 := pv1.Memo(buildPoolWire).(*poolWire)
	k1 := w1.wireOf(pv1.Label("k1"))
	if r := f.send(t, msg(t, pe("k3", 80, "192.0.2.3", 30)...), keyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(rcode(r))
	}
	pv2 := pool()
	w2 := pv2.Memo(buildPoolWire).(*poolWire)
	if pv2 == pv1 || w2.wireOf(pv2.Label("k1")) != k1 {
		t.Error("an unchanged element was packed again")
	}
	if w2.wireOf(pv2.Label("k3")) == nil || pv2.All.Len() != 3 {
		t.Errorf("new view: %d elements served", pv2.All.Len())
	}
	// The same element under another TTL: packed anew.
	k := wireKey{name: pv2.Name, ttl: 99}
	other := pv2.Label("k1").Memo(unique.Make(k), func(e *handlespace.Element) any { return buildElemWire(e, k, []byte{0}) }).(*elemWire)
	if other == k1 || binary.BigEndian.Uint32(other.a[6:]) != 99 {
		t.Errorf("wire for TTL 99: %x", other.a)
	}
}
