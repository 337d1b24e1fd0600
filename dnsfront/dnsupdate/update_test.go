package dnsupdate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnsfront/tsigkey"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// The tests of DNS UPDATE: the semantics of the sections, with the real
// committer and a real bbolt store, the TSIG verdict of the DNS server
// given (recorder.status). How the DNS front finds names for the
// prerequisites is its own (dnsfront's TestUpdateLookup); here lookup
// stands in for it.

const testZone = `$ORIGIN pool.test.
@      3600 IN SOA ns1.pool.test. hostmaster.pool.test. 1 3600 600 86400 30
@      3600 IN NS  ns1.pool.test.
ns1    3600 IN A   192.0.2.53
txt    300  IN TXT "hello"
a.b.deep 300 IN TXT "deep"
`

// newTestSpace is zone pool.test. with static records and the pools web
// (rr, service _http._tcp, 4 elements from the zone file, one
// dual-stack) and api (wrr).
func newTestSpace(t testing.TB) *handlespace.Handlespace {
	t.Helper()
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	web := handlespace.DefaultPoolSpec()
	web.Policy, web.Service = "rr", "_http._tcp"
	api := handlespace.DefaultPoolSpec()
	api.Policy = "wrr"
	def := handlespace.ZoneDef{
		Origin: "pool.test.", File: "test.zone", Records: hstest.RRs(t, testZone),
		Pools: []handlespace.PoolDef{
			{Handle: "web", Spec: web, Elements: []*handlespace.Element{
				hstest.Elem("w1", "10.0.0.1", 8080, 1), hstest.Elem("w2", "10.0.0.2", 8080, 1),
				hstest.Elem("w3", "10.0.0.3", 8080, 1), hstest.Elem("w4", "10.0.0.4,2001:db8::4", 8080, 1),
			}},
			{Handle: "api", Spec: api, Elements: []*handlespace.Element{
				hstest.Elem("a1", "10.0.1.1", 443, 10), hstest.Elem("a2", "10.0.1.2", 443, 20),
			}},
		},
	}
	if err := hs.ApplyZones([]handlespace.ZoneDef{def}); err != nil {
		t.Fatal(err)
	}
	return hs
}

// lookup stands in for the DNS front's lookup: a pool's name, its service
// name and <label>.<handle> are the pool's and its element's, the pool's
// other names hold nothing; the names outside the pools are the zone
// file's.
func lookup(z *handlespace.Zone, name string) (Kind, *handlespace.PoolView, *handlespace.Element) {
	rel := strings.TrimSuffix(strings.TrimSuffix(name, z.Origin), ".")
	labels := strings.Split(rel, ".")
	pv := z.Pool(labels[len(labels)-1])
	switch {
	case rel == "" || pv == nil || z.Nodes[name] != nil:
		return KindStatic, nil, nil
	case len(labels) == 1:
		return KindPool, pv, nil
	case len(labels) == 3 && labels[0]+"."+labels[1] == pv.Spec.Service:
		return KindService, pv, nil
	case len(labels) == 2:
		if e := pv.Label(labels[0]); e != nil {
			return KindElement, pv, e
		}
	}
	return KindOther, pv, nil
}

var _ Lookup = lookup

// recorder is a dns.ResponseWriter that keeps the reply, packed and
// unpacked, and says the request's TSIG verdict was status.
type recorder struct {
	status error
	msg    *dns.Msg
	err    error
	n      int
}

var _ dns.ResponseWriter = (*recorder)(nil)

func (r *recorder) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(192, 0, 2, 200), Port: 40000}
}
func (r *recorder) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		r.err = err
		return err
	}
	_, err = r.Write(b)
	return err
}
func (r *recorder) Write(b []byte) (int, error) {
	r.n++
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		r.err = err
		return 0, err
	}
	r.msg = m
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return r.status }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// updFixture is the shared fixture (internal/updatetest) with the UPDATE
// server of its handlespace.
type updFixture struct {
	*updatetest.Fixture
	s *Server
}

func newUpdFixture(t testing.TB, cfg regcommit.Config) *updFixture {
	t.Helper()
	f := &updFixture{Fixture: updatetest.New(t, newTestSpace(t), cfg)}
	keys, err := tsigkey.New(updatetest.Keys())
	if err != nil {
		t.Fatal(err)
	}
	f.s = New(f.HS, Config{Updates: f.Reg, Keys: keys, Lookup: lookup, Logger: discardLog(), UDPSize: 1232})
	return f
}

// sendStatus sends m signed by key (its TSIG verdict status: nil,
// verified), or unsigned (key "").
func (f *updFixture) sendStatus(t testing.TB, m *dns.Msg, key string, status error) *dns.Msg {
	t.Helper()
	m = updatetest.Sign(t, m, key)
	w := &recorder{status: status}
	f.s.ServeUpdate(w, m)
	updatetest.CheckReply(t, m, w.msg, w.n, w.err)
	return w.msg
}

func (f *updFixture) send(t testing.TB, m *dns.Msg, key string) *dns.Msg {
	t.Helper()
	return f.sendStatus(t, m, key, nil)
}

// state describes a pool: "label:addrs:port:weight/prio" per element,
// sorted; nil when there is no such pool.
func (f *updFixture) state(pool string) []string {
	pv := f.HS.View().Zone("pool.test.").Pool(pool)
	if pv == nil {
		return nil
	}
	var out []string
	for _, e := range pv.Elements() {
		var as []string
		for _, a := range e.Addrs.All() {
			as = append(as, a.String())
		}
		out = append(out, fmt.Sprintf("%s:%s:%d:%d/%d", e.Label.String(), strings.Join(as, ","), e.Port, e.Weight, e.Priority))
	}
	slices.Sort(out)
	return out
}

func (f *updFixture) elem(pool, label string) *handlespace.Element {
	pv := f.HS.View().Zone("pool.test.").Pool(pool)
	if pv == nil {
		return nil
	}
	return pv.Label(label)
}

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
		{"register", updatetest.PE("pe1", 8080, "192.0.2.1", 30), dns.RcodeSuccess, []string{"pe1:192.0.2.1:8080:0/0"}},
		{"the same again (a refresh)", updatetest.PE("pe1", 8080, "192.0.2.1", 30), dns.RcodeSuccess, []string{"pe1:192.0.2.1:8080:0/0"}},
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
		{"unknown TXT key: refused", join(updatetest.PE("pe2", 80, "192.0.2.2", 30), []string{`+ pe2.dyn.pool.test. 30 IN TXT "wieght=3"`}), dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"bad TXT value: refused", join(updatetest.PE("pe2", 80, "192.0.2.2", 30), []string{`+ pe2.dyn.pool.test. 30 IN TXT "load=2"`}), dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"MX at an element: refused", []string{"+ pe1.dyn.pool.test. 30 IN MX 10 mx.example."}, dns.RcodeRefused, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"two elements at once", join(updatetest.PE("pe2", 80, "192.0.2.2", 30), updatetest.PE("pe3", 80, "192.0.2.3", 30)), dns.RcodeSuccess,
			[]string{"pe1:2001:db8::1:9090:0/0", "pe2:192.0.2.2:80:0/0", "pe3:192.0.2.3:80:0/0"}},
		{"all or nothing: pe4 good, pe5 bad", join(updatetest.PE("pe4", 80, "192.0.2.4", 30), []string{"+ pe5.dyn.pool.test. 30 IN A 192.0.2.5"}), dns.RcodeRefused,
			[]string{"pe1:2001:db8::1:9090:0/0", "pe2:192.0.2.2:80:0/0", "pe3:192.0.2.3:80:0/0"}},
		{"delete an SRV: deregisters", []string{"- pe2.dyn.pool.test. 0 IN SRV 0 0 80 pe2.dyn.pool.test."}, dns.RcodeSuccess,
			[]string{"pe1:2001:db8::1:9090:0/0", "pe3:192.0.2.3:80:0/0"}},
		{"delete a name: deregisters", []string{"-name pe3.dyn.pool.test."}, dns.RcodeSuccess, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"delete a name that is not there", []string{"-name nope.dyn.pool.test."}, dns.RcodeSuccess, []string{"pe1:2001:db8::1:9090:0/0"}},
		{"delete then add in one update: a replace", join([]string{"-name pe1.dyn.pool.test."}, updatetest.PE("pe1", 7000, "192.0.2.9", 30)), dns.RcodeSuccess,
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
		r := f.send(t, updatetest.Msg(t, s.lines...), updatetest.KeyAll)
		if r.Rcode != s.rcode {
			t.Errorf("%s: %s, want %s", s.name, updatetest.Rcode(r), dns.RcodeToString[s.rcode])
		}
		if got := f.state("dyn"); !slices.Equal(got, s.state) {
			t.Errorf("%s: pool dyn = %q, want %q", s.name, got, s.state)
		}
		if s.rcode == dns.RcodeSuccess && (r.IsTsig() == nil || r.IsTsig().Hdr.Name != updatetest.KeyAll) {
			t.Errorf("%s: reply not signed with the request's key", s.name)
		}
	}
}

func TestUpdateTXTAndPolicy(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	r := f.send(t, updatetest.Msg(t, append(updatetest.PE("a", 80, "192.0.2.1", 30),
		`+ a.dyn.pool.test. 30 IN TXT "policy=lu" "load=0.25" "loaddeg=1%" "site=ams" "transport=udp"`)...), updatetest.KeyAll)
	if r.Rcode != dns.RcodeSuccess {
		t.Fatalf("register with TXT: %s", updatetest.Rcode(r))
	}
	pv := f.HS.View().Zone("pool.test.").Pool("dyn")
	e := pv.Label("a")
	if pv.Spec.Policy != "lu" || e.Site.String() != "ams" || e.Transport != handlespace.TransportUDP ||
		e.Load != handlespace.LoadFromFraction(0.25) || e.LoadDeg != handlespace.LoadFromFraction(0.01) {
		t.Fatalf("pool %s, element %+v", pv.Spec.Policy, e)
	}
	// Deleting one pair by value, then the whole TXT set.
	if r := f.send(t, updatetest.Msg(t, `- a.dyn.pool.test. 0 IN TXT "site=ams"`), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess || f.elem("dyn", "a").Site.String() != "" {
		t.Errorf("delete site=ams: %s, site %q", updatetest.Rcode(r), f.elem("dyn", "a").Site.String())
	}
	if r := f.send(t, updatetest.Msg(t, "-rrset a.dyn.pool.test. TXT"), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess || f.elem("dyn", "a").Load != 0 {
		t.Errorf("delete TXT: %s, element %+v", updatetest.Rcode(r), f.elem("dyn", "a"))
	}
	// Another policy for the pool is refused (RFC 5354 inconsistent pooling policy).
	if r := f.send(t, updatetest.Msg(t, append(updatetest.PE("b", 80, "192.0.2.2", 30), `+ b.dyn.pool.test. 30 IN TXT "policy=rr"`)...), updatetest.KeyAll); r.Rcode != dns.RcodeRefused {
		t.Errorf("inconsistent policy: %s", updatetest.Rcode(r))
	}
	// The refused element is not served; the first one is.
	if got := f.state("dyn"); len(got) != 1 || !strings.HasPrefix(got[0], "a:") {
		t.Errorf("pool dyn %q, want a only", got)
	}
}

func TestUpdateForm(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	good := func() *dns.Msg { return updatetest.Msg(t, updatetest.PE("x", 80, "192.0.2.1", 30)...) }
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
		r := f.send(t, m, updatetest.KeyAll)
		if r.Rcode != c.rcode {
			t.Errorf("%s: %s, want %s", c.name, updatetest.Rcode(r), dns.RcodeToString[c.rcode])
		}
		if f.state("dyn") != nil {
			t.Fatalf("%s: the malformed update changed the pool: %q", c.name, f.state("dyn"))
		}
	}
	// A TSIG record anywhere but last in the additional section.
	m := good()
	m.SetTsig(updatetest.KeyAll, dns.HmacSHA256, 300, updatetest.T0.Unix())
	m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{1, 2, 3, 4}})
	w := &recorder{}
	f.s.ServeUpdate(w, updatetest.Wire(t, m))
	if w.msg == nil || w.msg.Rcode != dns.RcodeFormatError || f.state("dyn") != nil {
		t.Errorf("TSIG not last: %v", w.msg)
	}
}

func TestUpdateAuthorisation(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	// Unsigned: refused, nothing changes.
	if r := f.send(t, updatetest.Msg(t, updatetest.PE("x", 80, "192.0.2.1", 30)...), ""); r.Rcode != dns.RcodeRefused || f.state("dyn") != nil {
		t.Errorf("unsigned: %s, pool %q", updatetest.Rcode(r), f.state("dyn"))
	}
	// TSIG failures: NOTAUTH with the TSIG error; BADTIME signed with the
	// server's time, the others not.
	for _, c := range []struct {
		status error
		code   uint16
	}{
		{tsigkey.ErrBadSig, dns.RcodeBadSig}, {tsigkey.ErrBadKey, dns.RcodeBadKey}, {dns.ErrTime, dns.RcodeBadTime}, {tsigkey.ErrBadTrunc, dns.RcodeBadTrunc},
	} {
		r := f.sendStatus(t, updatetest.Msg(t, updatetest.PE("x", 80, "192.0.2.1", 30)...), updatetest.KeyAll, c.status)
		ts := r.IsTsig()
		if r.Rcode != dns.RcodeNotAuth || ts == nil || ts.Error != c.code {
			t.Errorf("TSIG %v: %s, TSIG %v; want NOTAUTH, %s", c.status, updatetest.Rcode(r), ts, dns.RcodeToString[int(c.code)])
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
	if r := f.send(t, updatetest.Msg(t, updatetest.PE("x", 80, "192.0.2.1", 30)...), updatetest.KeyAPI); r.Rcode != dns.RcodeRefused || f.state("dyn") != nil {
		t.Errorf("limited key outside its pools: %s", updatetest.Rcode(r))
	}
	m := updatetest.Msg(t, "+ x.dyn2.pool.test. 30 IN SRV 0 0 80 x.dyn2.pool.test.", "+ x.dyn2.pool.test. 30 IN A 192.0.2.1")
	if r := f.send(t, m, updatetest.KeyAPI); r.Rcode != dns.RcodeSuccess || f.state("dyn2") == nil {
		t.Errorf("limited key in its pool: %s", updatetest.Rcode(r))
	}
	// One key's element is not another's.
	if r := f.send(t, updatetest.Msg(t, "-name x.dyn2.pool.test."), updatetest.KeyAll); r.Rcode != dns.RcodeRefused || f.state("dyn2") == nil {
		t.Errorf("another key deletes: %s", updatetest.Rcode(r))
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
		{"UPDATE-LEASE", withLease(updatetest.Msg(t, updatetest.PE("a", 80, "192.0.2.1", 30)...), 20, 0), 20 * time.Second, true, 0},
		{"UPDATE-LEASE below the minimum", withLease(updatetest.Msg(t, updatetest.PE("b", 80, "192.0.2.2", 30)...), 1, 0), 5 * time.Second, true, 0},
		{"UPDATE-LEASE above the maximum, with KEY-LEASE", withLease(updatetest.Msg(t, updatetest.PE("c", 80, "192.0.2.3", 30)...), 999999, 999999), time.Hour, true, 3600},
		{"SRV TTL", updatetest.Msg(t, updatetest.PE("d", 80, "192.0.2.4", 45)...), 45 * time.Second, false, 0},
		{"SRV TTL 0: the default", updatetest.Msg(t, updatetest.PE("e", 80, "192.0.2.5", 0)...), 60 * time.Second, false, 0},
	} {
		r := f.send(t, c.m, updatetest.KeyAll)
		if r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s: %s", c.name, updatetest.Rcode(r))
			continue
		}
		label := strings.Split(c.m.Ns[0].Header().Name, ".")[0]
		e := f.elem("dyn", label)
		if e.Lease != c.want || !e.Expires.Time().Equal(updatetest.T0.Add(c.want)) {
			t.Errorf("%s: lease %v expiring %v, want %v", c.name, e.Lease, e.Expires.Time(), c.want)
		}
		l, kl, ok := granted(r)
		if ok != c.echo || (ok && (time.Duration(l)*time.Second != c.want || kl != c.wantKeyLse)) {
			t.Errorf("%s: reply lease option %v %d %d, want %v %v", c.name, ok, l, kl, c.echo, c.want)
		}
	}
	// A TXT-only update refreshes with the element's lease.
	f.Advance(10 * time.Second)
	if r := f.send(t, updatetest.Msg(t, `+ d.dyn.pool.test. 30 IN TXT "weight=3"`), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(updatetest.Rcode(r))
	}
	if e := f.elem("dyn", "d"); e.Lease != 45*time.Second || !e.Expires.Time().Equal(updatetest.T0.Add(55*time.Second)) || e.Weight != 3 {
		t.Errorf("after a TXT update: %+v", e)
	}
	// Expiry on the fake clock: a (20 s) and b (5 s) have run out at +20 s.
	n := f.Reg.Sweep(updatetest.T0.Add(20 * time.Second))
	if n != 2 || f.elem("dyn", "a") != nil || f.elem("dyn", "b") != nil || f.elem("dyn", "d") == nil {
		t.Errorf("sweep at +20s removed %d: %q", n, f.state("dyn"))
	}
	var stored []string
	f.Store.Elements(func(_ string, e *handlespace.Element) error { stored = append(stored, e.Label.String()); return nil })
	slices.Sort(stored)
	if !slices.Equal(stored, []string{"c", "d", "e"}) {
		t.Errorf("store after the sweep: %q", stored)
	}
}

func TestUpdateQuotasAndRate(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{MaxPerOwner: 2, Rate: 1, Burst: 5})
	var rcodes []string
	for i := 0; i < 6; i++ {
		r := f.send(t, updatetest.Msg(t, updatetest.PE(fmt.Sprintf("q%d", i), 80, fmt.Sprintf("192.0.2.%d", i+1), 30)...), updatetest.KeyAll)
		rcodes = append(rcodes, updatetest.Rcode(r))
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
	if r := f.send(t, updatetest.Msg(t, append(updatetest.PE("p1", 80, "192.0.2.1", 30), `+ p1.dyn.pool.test. 30 IN TXT "weight=4"`)...), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(updatetest.Rcode(r))
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
		m := updatetest.Msg(t, append([]string{c.pre}, updatetest.PE("p2", 81, "192.0.2.9", 30)...)...)
		r := f.send(t, m, updatetest.KeyAll)
		if r.Rcode != c.rcode {
			t.Errorf("%s: %s, want %s", c.pre, updatetest.Rcode(r), dns.RcodeToString[c.rcode])
		}
		has := f.elem("dyn", "p2") != nil
		if has != (c.rcode == dns.RcodeSuccess) {
			t.Errorf("%s: p2 registered = %v", c.pre, has)
		}
		if has {
			if r := f.send(t, updatetest.Msg(t, "-name p2.dyn.pool.test."), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess {
				t.Fatal(updatetest.Rcode(r))
			}
		}
	}
	// The typical use: register only if the name is free.
	m := updatetest.Msg(t, append([]string{"?nxdomain p1.dyn.pool.test."}, updatetest.PE("p1", 99, "192.0.2.99", 30)...)...)
	if r := f.send(t, m, updatetest.KeyAll); r.Rcode != dns.RcodeYXDomain || f.elem("dyn", "p1").Port != 80 {
		t.Errorf("conditional registration of a taken name: %s", updatetest.Rcode(r))
	}
}

// TestUpdateNotImplemented: without an Updater, UPDATE gets NOTIMP.
func TestUpdateNotImplemented(t *testing.T) {
	s := New(newTestSpace(t), Config{Logger: discardLog(), Lookup: lookup})
	w := &recorder{}
	s.ServeUpdate(w, updatetest.Wire(t, updatetest.Msg(t, updatetest.PE("x", 80, "192.0.2.1", 30)...)))
	if w.msg.Rcode != dns.RcodeNotImplemented {
		t.Errorf("UPDATE without an updater: %s", updatetest.Rcode(w.msg))
	}
}

// fakeUpdater answers every request with err (or the lease granted), and
// refuses every source when limited.
type fakeUpdater struct {
	limited bool
	err     error
	lease   time.Duration
	got     int // requests submitted
	last    *regcommit.Request
}

func (u *fakeUpdater) Allow(netip.Addr) bool { return !u.limited }
func (u *fakeUpdater) Submit(ctx context.Context, req *regcommit.Request) (regcommit.Result, error) {
	u.got++
	u.last = req
	if u.err != nil {
		return regcommit.Result{}, u.err
	}
	return regcommit.Result{Lease: u.lease}, nil
}

var _ Updater = (*fakeUpdater)(nil)

// TestReplies: what a reply says, for each way an update ends: the
// rcode; with EDNS, an Extended DNS Error (Prohibited for REFUSED, Other
// for the rest) whose text says why, and the granted lease when one was
// asked for; a TSIG when the request was validly signed, none when it was
// unsigned. The committer's errors map to REFUSED (refused, invalid),
// NOTAUTH (the zone no longer served) and SERVFAIL (anything else, a
// timeout included).
func TestReplies(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	keys, err := tsigkey.New([]tsigkey.Key{{Name: updatetest.KeyAll, Algorithm: dns.HmacSHA256, Secret: secret},
		{Name: updatetest.KeyAPI, Algorithm: dns.HmacSHA256, Secret: secret, Pools: []string{"api"}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := newTestSpace(t)
	for _, c := range []struct {
		name  string
		upd   fakeUpdater
		key   string // "": unsigned
		lines []string
		lease uint32 // the UPDATE-LEASE asked for, 0: none
		rcode int
		ede   int    // -1: none
		why   string // a part of the EDE's text
		// submitted: the request reached the committer (else it was
		// refused before)
		submitted bool
		signed    bool
	}{
		{"applied", fakeUpdater{lease: 90 * time.Second}, updatetest.KeyAll, updatetest.PE("x", 80, "192.0.2.1", 30), 120, dns.RcodeSuccess, -1, "", true, true},
		{"rate limited", fakeUpdater{limited: true}, updatetest.KeyAll, updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeRefused, int(dns.ExtendedErrorCodeProhibited), "rate limit exceeded", false, true},
		{"unsigned", fakeUpdater{}, "", updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeRefused, int(dns.ExtendedErrorCodeProhibited), "unsigned update", false, false},
		{"key not for the pool", fakeUpdater{}, updatetest.KeyAPI, updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeRefused, int(dns.ExtendedErrorCodeProhibited), "may not change pool dyn.pool.test.", false, true},
		{"malformed, signed", fakeUpdater{}, updatetest.KeyAll, []string{"+ a.b.dyn.pool.test. 30 IN A 192.0.2.1"}, 0, dns.RcodeRefused, int(dns.ExtendedErrorCodeProhibited), "not a pool element's name", false, true},
		{"outside the zone", fakeUpdater{}, updatetest.KeyAll, []string{"+ x.dyn.example.org. 30 IN A 192.0.2.1"}, 0, dns.RcodeNotZone, int(dns.ExtendedErrorCodeOther), "outside zone", false, true},
		{"committer refuses", fakeUpdater{err: &regcommit.Error{Code: regcommit.Refused, Msg: "quota of key all-key. reached"}}, updatetest.KeyAll, updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeRefused, int(dns.ExtendedErrorCodeProhibited), "quota", true, true},
		{"committer: invalid", fakeUpdater{err: &regcommit.Error{Code: regcommit.Invalid, Msg: "element x.dyn.pool.test. has no port"}}, updatetest.KeyAll, updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeRefused, int(dns.ExtendedErrorCodeProhibited), "no port", true, true},
		{"zone gone", fakeUpdater{err: &regcommit.Error{Code: regcommit.NotFound, Msg: "the pool's zone is not served"}}, updatetest.KeyAll, updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeNotAuth, int(dns.ExtendedErrorCodeOther), "not served", true, true},
		{"prerequisite failed", fakeUpdater{err: updErr(dns.RcodeYXDomain, "prerequisite failed: name x.dyn.pool.test. is in use")}, updatetest.KeyAll, updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeYXDomain, int(dns.ExtendedErrorCodeOther), "is in use", true, true},
		{"commit timed out", fakeUpdater{err: context.DeadlineExceeded}, updatetest.KeyAll, updatetest.PE("x", 80, "192.0.2.1", 30), 0, dns.RcodeServerFailure, int(dns.ExtendedErrorCodeOther), "deadline exceeded", true, true},
	} {
		s := New(hs, Config{Updates: &c.upd, Keys: keys, Lookup: lookup, Logger: discardLog(), UDPSize: 1232})
		m := updatetest.Msg(t, c.lines...)
		m.SetEdns0(1232, false)
		if c.lease != 0 {
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_UL{Code: dns.EDNS0UL, Lease: c.lease})
		}
		if c.key != "" {
			m.SetTsig(c.key, dns.HmacSHA256, 300, updatetest.T0.Unix())
		}
		w := &recorder{}
		s.ServeUpdate(w, updatetest.Wire(t, m))
		r := w.msg
		if w.n != 1 || r == nil {
			t.Fatalf("%s: %d replies, %v", c.name, w.n, w.err)
		}
		var ede *dns.EDNS0_EDE
		var ul *dns.EDNS0_UL
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				switch o := o.(type) {
				case *dns.EDNS0_EDE:
					ede = o
				case *dns.EDNS0_UL:
					ul = o
				}
			}
		} else {
			t.Errorf("%s: no OPT in the reply to an EDNS request", c.name)
		}
		switch {
		case r.Rcode != c.rcode:
			t.Errorf("%s: %s, want %s", c.name, updatetest.Rcode(r), dns.RcodeToString[c.rcode])
		case c.ede < 0 && ede != nil:
			t.Errorf("%s: an Extended DNS Error %v", c.name, ede)
		case c.ede >= 0 && (ede == nil || int(ede.InfoCode) != c.ede || !strings.Contains(ede.ExtraText, c.why)):
			t.Errorf("%s: Extended DNS Error %v; want code %d with %q", c.name, ede, c.ede, c.why)
		case (r.IsTsig() != nil) != c.signed:
			t.Errorf("%s: reply signed %v, want %v", c.name, r.IsTsig() != nil, c.signed)
		}
		if c.lease != 0 && (ul == nil || ul.Lease != 90) {
			t.Errorf("%s: lease option %v, want the 90 s granted", c.name, ul)
		}
		if got := c.upd.got; (got != 0) != c.submitted {
			t.Errorf("%s: %d requests submitted; want submitted %v", c.name, got, c.submitted)
		}
	}
}

// TestTypesAt: the types a prerequisite sees at a name without building
// the RRsets are those of the RRsets: at pools (one with an IPv6-only
// element, one with IPv4 only, one emptied), service names, elements,
// zone file names, empty non-terminals and names that hold nothing.
func TestTypesAt(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	for _, m := range [][]string{
		updatetest.PE("p1", 80, "192.0.2.1", 30),
		updatetest.PE("p6", 80, "2001:db8::6", 30),
		hstest.Register("q1", "dyn2.pool.test.", 80, "192.0.2.7", 30),
	} {
		if r := f.send(t, updatetest.Msg(t, m...), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess {
			t.Fatal(updatetest.Rcode(r))
		}
	}
	if r := f.send(t, updatetest.Msg(t, "-name q1.dyn2.pool.test."), updatetest.KeyAll); r.Rcode != dns.RcodeSuccess {
		t.Fatal(updatetest.Rcode(r))
	}
	z := f.HS.View().Zone("pool.test.")
	for _, name := range []string{
		"web.pool.test.", "api.pool.test.", "dyn.pool.test.", "dyn2.pool.test.",
		"_http._tcp.web.pool.test.", "w4.web.pool.test.", "p1.dyn.pool.test.", "p6.dyn.pool.test.",
		"pool.test.", "txt.pool.test.", "b.deep.pool.test.", "a.b.deep.pool.test.", "nothing.pool.test.",
	} {
		want := map[uint16]bool{}
		for typ, rrs := range (names{lookup: lookup, z: z}).rrsetsAt(name) {
			if len(rrs) > 0 {
				want[typ] = true
			}
		}
		got := (names{lookup: lookup, z: z}).typesAt(name)
		if len(got) != len(want) {
			t.Errorf("%s: types %v, want %v", name, got, want)
			continue
		}
		for typ := range want {
			if !got[typ] {
				t.Errorf("%s: types %v, want %v", name, got, want)
			}
		}
	}
	if got := (names{lookup: lookup, z: z}).typesAt("dyn.pool.test."); !got[dns.TypeA] || !got[dns.TypeAAAA] || !got[dns.TypeSRV] {
		t.Errorf("dyn.pool.test.: types %v, want SRV, A and AAAA", got)
	}
}

// TestNameKey: the conflict key of a name a prerequisite reads is its pool
// (and element label, two labels below the zone); an escaped dot is part
// of its label, an escaped backslash before a dot is not an escape of it.
func TestNameKey(t *testing.T) {
	const z = "pool.example."
	for _, c := range []struct{ name, pool, label string }{
		{"pool.example.", "", ""},
		{"web.pool.example.", "web.pool.example.", ""},
		{"w1.web.pool.example.", "web.pool.example.", "w1"},
		{"a.b.c.pool.example.", "c.pool.example.", ""},
		{`a\.b.pool.example.`, `a\.b.pool.example.`, ""},
		{`x.a\.b.pool.example.`, `a\.b.pool.example.`, "x"},
		{`a\\.b.pool.example.`, "b.pool.example.", `a\\`},
		{`a\046b.pool.example.`, `a\046b.pool.example.`, ""},
		{`x\.y.a\.b.pool.example.`, `a\.b.pool.example.`, `x\.y`},
	} {
		want := ""
		if c.pool != "" {
			want = regcommit.Key(c.pool, c.label)
		}
		if got := nameKey(z, c.name); got != want {
			t.Errorf("nameKey(%q) = %q, want %q", c.name, got, want)
		}
	}
}

// TestUpdateWaitBounded: an update's wait for its commit ends at the
// configured timeout (the default's 10 s, or Config.Timeout): the request
// carries the deadline, which the committer keeps as a context's would.
func TestUpdateWaitBounded(t *testing.T) {
	keys, err := tsigkey.New(updatetest.Keys())
	if err != nil {
		t.Fatal(err)
	}
	hs := newTestSpace(t)
	for _, timeout := range []time.Duration{0, 3 * time.Second} {
		upd := &fakeUpdater{}
		s := New(hs, Config{Updates: upd, Keys: keys, Lookup: lookup, Logger: discardLog(), Timeout: timeout})
		m := updatetest.Sign(t, updatetest.Msg(t, updatetest.PE("x", 80, "192.0.2.1", 30)...), updatetest.KeyAll)
		before := time.Now()
		w := &recorder{}
		s.ServeUpdate(w, m)
		after := time.Now()
		want := timeout
		if want == 0 {
			want = defaultUpdateTimeout
		}
		if upd.last == nil {
			t.Fatalf("timeout %v: nothing submitted", timeout)
		}
		if d := upd.last.Deadline; d.Before(before.Add(want)) || d.After(after.Add(want)) {
			t.Errorf("timeout %v: deadline %v after the update, want %v", timeout, d.Sub(before), want)
		}
	}
}

// TestTXTState: the TXT pairs of an element's state hold one value per
// key of txtKeys, in the keys' alphabetical order (as the prerequisites'
// TXT records list them), an unknown key none.
func TestTXTState(t *testing.T) {
	var st txtState
	for i, k := range txtKeys {
		st.set(k, fmt.Sprint(i))
	}
	st.set("nope", "1")
	var keys []string
	for i := range txtKeys {
		k, v, ok := st.pair(i)
		if !ok || v != fmt.Sprint(slices.Index(txtKeys, k)) {
			t.Errorf("pair %d: %s=%s %v", i, k, v, ok)
		}
		keys = append(keys, k)
	}
	if !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(txtKeys) {
		t.Errorf("keys in the order %v, want every key of %v sorted", keys, txtKeys)
	}
	st.del("load")
	if v, ok := st.get("load"); ok || v != "" {
		t.Errorf("deleted load: %q %v", v, ok)
	}
	if _, ok := st.get("nope"); ok {
		t.Error("an unknown key is set")
	}
	if v, ok := st.get("site"); !ok || v != "4" || st.empty() {
		t.Errorf("site: %q %v", v, ok)
	}
}

// TestInZone: inZone says what dns.IsSubDomain says, for plain names and
// names with escapes (which it hands to dns.IsSubDomain).
func TestInZone(t *testing.T) {
	names := []string{".", "test.", "pool.test.", "a.pool.test.", "ab.pool.test.", "xpool.test.", "a.b.pool.test.",
		`a\.pool.test.`, `a\\.pool.test.`, "pool.test.x.", "ool.test.", "a.xpool.test.", `p\111ol.test.`}
	for _, origin := range []string{".", "test.", "pool.test.", `a\.pool.test.`} {
		for _, name := range names {
			if got, want := inZone(origin, name), dns.IsSubDomain(origin, name); got != want {
				t.Errorf("inZone(%q, %q) = %v, dns.IsSubDomain says %v", origin, name, got, want)
			}
		}
	}
}
