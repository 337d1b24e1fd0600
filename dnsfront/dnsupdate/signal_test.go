package dnsupdate

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// TestUpdateSignalNames: an UPDATE at or below a `_signal` label (RFC
// 9615's signal names and the empty non-terminals above them) is
// REFUSED with a reason, and registers nothing, whatever the element
// name's form would allow (a new pool `_signal`, an element `_signal` of
// a pool); the same registration at an ordinary name goes through.
func TestUpdateSignalNames(t *testing.T) {
	f := newUpdFixture(t, regcommit.Config{})
	for _, c := range []struct{ label, pool string }{
		{"_signal", "dyn.pool.test."},     // `_signal.<ns>`, ns a pool's name
		{"x", "_signal.pool.test."},       // below `_signal.pool.test.`
		{"_dsboot", "_signal.pool.test."}, // `_dsboot.<child>._signal.<ns>`, child the root
		{"_SIGNAL", "dyn.pool.test."},     // case does not matter
		{"_signal", "_signal.pool.test."}, // both
	} {
		m := updatetest.Msg(t, hstest.Register(c.label, c.pool, 80, "192.0.2.1", 30)...)
		m.SetEdns0(1232, false)
		r := f.send(t, m, updatetest.KeyAll)
		name := strings.ToLower(c.label + "." + c.pool)
		if r.Rcode != dns.RcodeRefused || !strings.Contains(edeText(r), "signal") {
			t.Errorf("UPDATE at %s: %s %q; want REFUSED, naming the signal", name, updatetest.Rcode(r), edeText(r))
		}
		if got := f.state("dyn"); got != nil {
			t.Errorf("UPDATE at %s registered: pool dyn %q", name, got)
		}
		if got := f.state("_signal"); got != nil {
			t.Errorf("UPDATE at %s registered: pool _signal %q", name, got)
		}
	}
	// A name that only looks alike is an element name as any other.
	r := f.send(t, updatetest.Msg(t, updatetest.PE("_signals", 80, "192.0.2.1", 30)...), updatetest.KeyAll)
	if r.Rcode != dns.RcodeSuccess || f.state("dyn") == nil {
		t.Errorf("UPDATE at _signals.dyn.pool.test.: %s, pool dyn %q; want registered", updatetest.Rcode(r), f.state("dyn"))
	}
}

func TestSignalName(t *testing.T) {
	for name, want := range map[string]bool{
		"_signal.":                          true,
		"_signal.ns1.pool.test.":            true,
		"_dsboot.child.example._signal.ns.": true,
		"x._signal.":                        true,
		"pool.test.":                        false,
		"_signals.pool.test.":               false,
		"x_signal.pool.test.":               false,
		"_signal_.pool.test.":               false,
		`a\._signal.pool.test.`:             false, // one label `a._signal`
		`a\\._signal.pool.test.`:            true,  // `a\` then `_signal`
		`x._signal\.y.pool.test.`:           false,
	} {
		if got := signalName(name); got != want {
			t.Errorf("signalName(%q) = %v, want %v", name, got, want)
		}
	}
}

// edeText returns the extra text of the reply's Extended DNS Error.
func edeText(m *dns.Msg) string {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.ExtraText
			}
		}
	}
	return ""
}
