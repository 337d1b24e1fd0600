package dnsfront

import (
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// TestNotCurrentHeld: while Config.Current says the view is not current,
// every query, over UDP (the fast path and the dns.Msg path) and TCP, is
// answered SERVFAIL with Extended DNS Error 14 (Not Ready) and no record;
// once it is current again, the same queries are answered.
func TestNotCurrentHeld(t *testing.T) {
	var current atomic.Bool
	addr, _ := serveTest(t, Config{Current: current.Load}, newTestSpace(t))
	ask := func(name string, qtype uint16, net string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.SetEdns0(1232, false)
		c := &dns.Client{Net: net}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], net, err)
		}
		return r
	}
	cases := []struct {
		name  string
		qtype uint16
		net   string
	}{
		{"web.pool.test.", dns.TypeA, "udp"},    // the wire fast path
		{"web.pool.test.", dns.TypeSOA, "udp"},  // a dns.Msg answer
		{"WEB.pool.test.", dns.TypeA, "udp"},    // letter case kept in the reply
		{"web.pool.test.", dns.TypeA, "tcp"},    // the handler
		{"nope.pool.test.", dns.TypeA, "tcp"},   // a name error would be held too
		{"w1.web.pool.test.", dns.TypeA, "udp"}, // an element
	}
	for _, tc := range cases {
		r := ask(tc.name, tc.qtype, tc.net)
		if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
			t.Errorf("held, %s %s over %s: rcode %s, %d answers; want SERVFAIL and none", tc.name, dns.TypeToString[tc.qtype], tc.net,
				dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		if r.Question[0].Name != tc.name {
			t.Errorf("held, %s: question %s in the reply", tc.name, r.Question[0].Name)
		}
		if ede := extendedError(r); ede == nil || ede.InfoCode != dns.ExtendedErrorCodeNotReady {
			t.Errorf("held, %s %s over %s: EDE %v, want 14 (Not Ready)", tc.name, dns.TypeToString[tc.qtype], tc.net, ede)
		}
	}
	current.Store(true)
	for _, tc := range cases {
		r := ask(tc.name, tc.qtype, tc.net)
		if r.Rcode == dns.RcodeServerFailure || extendedError(r) != nil {
			t.Errorf("current, %s %s over %s: rcode %s, EDE %v", tc.name, dns.TypeToString[tc.qtype], tc.net, dns.RcodeToString[r.Rcode], extendedError(r))
		}
	}
	if r := ask("web.pool.test.", dns.TypeA, "udp"); len(r.Answer) == 0 {
		t.Error("current: web.pool.test. A has no answer")
	}
}

// extendedError returns the reply's Extended DNS Error option, if any.
func extendedError(m *dns.Msg) *dns.EDNS0_EDE {
	opt := m.IsEdns0()
	if opt == nil {
		return nil
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			return e
		}
	}
	return nil
}
