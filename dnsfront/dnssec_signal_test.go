package dnsfront

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/updatetest"
	"github.com/poolnsd/poolnsd/regcommit"
)

// childZone is a zone served beside pool.test. whose name servers are
// ns1.pool.test. (in pool.test.), x.wild.pool.test. (a name that
// pool.test.'s wildcard matches), ns.child.example. (inside the child:
// no signal, RFC 9615 §4.1) and ns.elsewhere.test. (in no zone served
// here).
const childZone = `$ORIGIN child.example.
@  300 IN SOA ns1.pool.test. hostmaster 1 3600 600 86400 60
@  300 IN NS ns1.pool.test.
@  300 IN NS x.wild.pool.test.
@  300 IN NS ns.child.example.
@  300 IN NS ns.elsewhere.test.
ns 300 IN A 192.0.2.98
`

// signalSpace returns newSignedSpace with child.example. (childZone)
// served too.
func signalSpace(t *testing.T) *handlespace.Handlespace {
	t.Helper()
	hs := newSignedSpace(t, 3)
	pz := hs.View().Zone("pool.test.")
	var pools []handlespace.PoolDef
	for _, h := range []string{"web", "dead", "big"} {
		pv := pz.Pool(h)
		pools = append(pools, handlespace.PoolDef{Handle: h, Spec: pv.Spec, Elements: pv.Elements()})
	}
	if err := hs.ApplyZones([]handlespace.ZoneDef{
		{Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, secureZone), Pools: pools},
		{Origin: "child.example.", File: "child.zone", Records: mustRRs(t, childZone)},
	}); err != nil {
		t.Fatal(err)
	}
	return hs
}

// withChild serves child.example. (childZone) beside the zones of hs,
// which must be pool.test. alone with testZone's records and its pools.
func withChild(t testing.TB, hs *handlespace.Handlespace) *handlespace.Handlespace {
	t.Helper()
	pz := hs.View().Zone("pool.test.")
	var pools []handlespace.PoolDef
	for _, h := range pz.PoolHandles() {
		pv := pz.Pool(h)
		pools = append(pools, handlespace.PoolDef{Handle: h, Spec: pv.Spec, Elements: pv.Elements()})
	}
	if err := hs.ApplyZones([]handlespace.ZoneDef{
		{Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, testZone), Pools: pools},
		{Origin: "child.example.", File: "child.zone", Records: mustRRs(t, childZone)},
	}); err != nil {
		t.Fatal(err)
	}
	return hs
}

// signerOfZones returns a signer of the zones that have keys among keys
// (written to a directory and loaded, as a daemon's), with opts.
func signerOfZones(t testing.TB, opts dnssec.Options, keys ...*dnssec.Key) *dnssec.Signer {
	t.Helper()
	dir := t.TempDir()
	for _, k := range keys {
		if err := k.Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := dnssec.Load(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := dnssec.NewSigner(opts)
	s.SetKeys(ks)
	return s
}

func genKey(t testing.TB, zone string, tm dnssec.Timing) *dnssec.Key {
	t.Helper()
	k, err := dnssec.Generate(zone, dns.ECDSAP256SHA256, dnssec.FlagsCSK, tm)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rdataOf returns the records' RDATA in presentation form, sorted.
func rdataOf(rrs []dns.RR, typ uint16) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == typ {
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
	}
	slices.Sort(out)
	return out
}

// TestSignedSignals: RFC 9615's signals. A signed child zone's CDS and
// CDNSKEY RRsets are published at _dsboot.<child>._signal.<ns> for each
// of its name servers in a signed zone served here (ns1.pool.test., and
// x.wild.pool.test. over pool.test.'s wildcard), equal to the child's
// apex RRsets and signed by the signal zone's key; the names above them
// are empty non-terminals (NODATA, NSEC RRSIG NSEC); a name server inside
// the child or outside every served zone has none; other names stay
// NXDOMAIN; with and without DO, over UDP and TCP.
func TestSignedSignals(t *testing.T) {
	poolKey, childKey := genKey(t, "pool.test.", dnssec.Timing{}), genKey(t, "child.example.", dnssec.Timing{})
	signer := signerOfZones(t, dnssec.Options{}, poolKey, childKey)
	h := NewHandler(signalSpace(t), Config{Signer: signer})
	const (
		sig    = "_dsboot.child.example._signal.ns1.pool.test."
		sigWld = "_dsboot.child.example._signal.x.wild.pool.test."
		ent    = "NOERROR aa | | SOA RRSIG(SOA) NSEC(NSEC RRSIG) RRSIG(NSEC)"
		nx     = "NOERROR aa | | SOA RRSIG(SOA) NSEC(NSEC NXNAME RRSIG) RRSIG(NSEC)"
	)
	for _, c := range []struct {
		name      string
		qtype     uint16
		do, noDO  string
		signalKey bool // the answer's records are the child's apex RRset of qtype
	}{
		{sig, dns.TypeCDS, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", true},
		{sig, dns.TypeCDNSKEY, "NOERROR aa | CDNSKEY RRSIG(CDNSKEY) |", "NOERROR aa | CDNSKEY |", true},
		{"_DSBOOT.Child.Example._signal.NS1.pool.test.", dns.TypeCDS, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", true},
		{sig, dns.TypeANY, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", false},
		{sig, dns.TypeA, "NOERROR aa | | SOA RRSIG(SOA) NSEC(CDNSKEY CDS NSEC RRSIG) RRSIG(NSEC)", "NOERROR aa | | SOA", false},
		{sig, dns.TypeNSEC, "NOERROR aa | NSEC(CDNSKEY CDS NSEC RRSIG) RRSIG(NSEC) |", "NOERROR aa | NSEC(CDNSKEY CDS NSEC RRSIG) |", false},
		{sigWld, dns.TypeCDS, "NOERROR aa | CDS RRSIG(CDS) |", "NOERROR aa | CDS |", true},
		{sigWld, dns.TypeTXT, "NOERROR aa | | SOA RRSIG(SOA) NSEC(CDNSKEY CDS NSEC RRSIG) RRSIG(NSEC)", "NOERROR aa | | SOA", false},
		{"_signal.ns1.pool.test.", dns.TypeA, ent, "NOERROR aa | | SOA", false},
		{"example._signal.ns1.pool.test.", dns.TypeCDS, ent, "NOERROR aa | | SOA", false},
		{"child.example._signal.ns1.pool.test.", dns.TypeTXT, ent, "NOERROR aa | | SOA", false},
		{"_signal.x.wild.pool.test.", dns.TypeA, ent, "NOERROR aa | | SOA", false},
		{"x._dsboot.child.example._signal.ns1.pool.test.", dns.TypeCDS, nx, "NXDOMAIN aa | | SOA", false},
		{"_dsboot.other.example._signal.ns1.pool.test.", dns.TypeCDS, nx, "NXDOMAIN aa | | SOA", false},
		{"other.example._signal.ns1.pool.test.", dns.TypeA, nx, "NXDOMAIN aa | | SOA", false},
		{"_signal.ns2.pool.test.", dns.TypeA, nx, "NXDOMAIN aa | | SOA", false},
		{"_dsboot.child.example._signal.mx1.pool.test.", dns.TypeCDS, nx, "NXDOMAIN aa | | SOA", false},
		// Inside the child: no signal (never used, §4.2).
		{"_dsboot.child.example._signal.ns.child.example.", dns.TypeCDS, nx, "NXDOMAIN aa | | SOA", false},
	} {
		for _, tcp := range []bool{false, true} {
			for _, do := range []bool{true, false} {
				where := fmt.Sprintf("%s %s, DO %v, TCP %v", c.name, dns.Type(c.qtype), do, tcp)
				m := queryDO(t, h, c.name, c.qtype, tcp, 1232, do)
				want := c.noDO
				if do {
					want = c.do
					key := poolKey.DNSKEY
					if dns.IsSubDomain("child.example.", c.name) {
						key = childKey.DNSKEY // the child's own name
					}
					checkSigs(t, m, key, nil)
				}
				if got := replySummary(m); got != want {
					t.Errorf("%s:\n got %s\nwant %s", where, got, want)
					continue
				}
				if !c.signalKey {
					continue
				}
				apex := queryDO(t, h, "child.example.", c.qtype, tcp, 1232, false)
				got, wantRD := rdataOf(m.Answer, c.qtype), rdataOf(apex.Answer, c.qtype)
				if len(got) == 0 || !slices.Equal(got, wantRD) {
					t.Errorf("%s: records %q, want the child's apex %s %q", where, got, dns.Type(c.qtype), wantRD)
				}
				if o := m.Answer[0].Header().Name; o != c.name {
					t.Errorf("%s: owner %s, want the question's", where, o)
				}
			}
		}
	}
}

// TestSignedSignalsWhen: no signals for a child that is not signed, whose
// CDS are off or ask for deletion, or whose signals are off
// (dnssec.signal_off), nor in a signal zone that is not signed (a signal
// must validate); the signals follow the child's keys when they change
// (a rollover's new key, published, is in the apex CDS RRset and in the
// signal's), as SetKeys (SIGHUP) changes them.
func TestSignedSignalsWhen(t *testing.T) {
	const sig = "_dsboot.child.example._signal.ns1.pool.test."
	poolKey, childKey := genKey(t, "pool.test.", dnssec.Timing{}), genKey(t, "child.example.", dnssec.Timing{})
	hs := signalSpace(t)
	for _, c := range []struct {
		what string
		opts dnssec.Options
		keys []*dnssec.Key
		want string // the DO answer of CDS at sig
	}{
		{"both signed", dnssec.Options{}, []*dnssec.Key{poolKey, childKey}, "NOERROR aa | CDS RRSIG(CDS) |"},
		{"child unsigned", dnssec.Options{}, []*dnssec.Key{poolKey}, "NOERROR aa | | SOA RRSIG(SOA) NSEC(NSEC NXNAME RRSIG) RRSIG(NSEC)"},
		{"signal zone unsigned", dnssec.Options{}, []*dnssec.Key{childKey}, "NXDOMAIN aa | | SOA"},
		{"cds_off", dnssec.Options{CDS: func(z string) dnssec.CDSMode {
			if z == "child.example." {
				return dnssec.CDSOff
			}
			return dnssec.CDSKeys
		}}, []*dnssec.Key{poolKey, childKey}, "NOERROR aa | | SOA RRSIG(SOA) NSEC(NSEC NXNAME RRSIG) RRSIG(NSEC)"},
		{"cds_delete", dnssec.Options{CDS: func(z string) dnssec.CDSMode {
			if z == "child.example." {
				return dnssec.CDSDelete
			}
			return dnssec.CDSKeys
		}}, []*dnssec.Key{poolKey, childKey}, "NOERROR aa | | SOA RRSIG(SOA) NSEC(NSEC NXNAME RRSIG) RRSIG(NSEC)"},
		{"signal_off", dnssec.Options{Signals: func(z string) bool { return z != "child.example." }},
			[]*dnssec.Key{poolKey, childKey}, "NOERROR aa | | SOA RRSIG(SOA) NSEC(NSEC NXNAME RRSIG) RRSIG(NSEC)"},
		{"signal_off of another zone", dnssec.Options{Signals: func(z string) bool { return z != "pool.test." }},
			[]*dnssec.Key{poolKey, childKey}, "NOERROR aa | CDS RRSIG(CDS) |"},
	} {
		h := NewHandler(hs, Config{Signer: signerOfZones(t, c.opts, c.keys...)})
		if got := replySummary(queryDO(t, h, sig, dns.TypeCDS, false, 1232, true)); got != c.want {
			t.Errorf("%s: CDS at the signal name:\n got %s\nwant %s", c.what, got, c.want)
		}
	}

	// A rollover's first step: the new key published.
	signer := signerOfZones(t, dnssec.Options{}, poolKey, childKey)
	h := NewHandler(hs, Config{Signer: signer})
	before := rdataOf(queryDO(t, h, sig, dns.TypeCDS, false, 1232, true).Answer, dns.TypeCDS)
	dir := t.TempDir()
	newKey := genKey(t, "child.example.", dnssec.Timing{Publish: time.Now().Add(-time.Minute), Activate: time.Now().Add(48 * time.Hour)})
	for _, k := range []*dnssec.Key{poolKey, childKey, newKey} {
		if err := k.Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := dnssec.Load(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	signer.SetKeys(ks)
	for _, typ := range []uint16{dns.TypeCDS, dns.TypeCDNSKEY} {
		m := queryDO(t, h, sig, typ, false, 1232, true)
		checkSigs(t, m, poolKey.DNSKEY, nil)
		got := rdataOf(m.Answer, typ)
		apex := rdataOf(queryDO(t, h, "child.example.", typ, false, 1232, false).Answer, typ)
		if len(got) != 2 || !slices.Equal(got, apex) {
			t.Errorf("after the new key: signal %s %q, want the apex's two %q", dns.Type(typ), got, apex)
		}
	}
	if len(before) != 1 {
		t.Errorf("before the new key: signal CDS %q, want one record", before)
	}
}

// TestSignedSignalsParentDS: a child whose parent zone is served here
// and holds its DS has no signals (its bootstrapping is done, RFC 9615
// §5.1); delegated there without a DS, it has them.
func TestSignedSignalsParentDS(t *testing.T) {
	const sig = "_dsboot.child.example._signal.ns1.pool.test."
	poolKey, childKey := genKey(t, "pool.test.", dnssec.Timing{}), genKey(t, "child.example.", dnssec.Timing{})
	hs := signalSpace(t)
	v := hs.View()
	defs := []handlespace.ZoneDef{{Origin: "child.example.", File: "child.zone", Records: mustRRs(t, childZone)}}
	pz := v.Zone("pool.test.")
	pool := handlespace.ZoneDef{Origin: "pool.test.", File: "test.zone", Records: mustRRs(t, secureZone)}
	for _, h := range pz.PoolHandles() {
		pv := pz.Pool(h)
		pool.Pools = append(pool.Pools, handlespace.PoolDef{Handle: h, Spec: pv.Spec, Elements: pv.Elements()})
	}
	defs = append(defs, pool)
	const parent = "$ORIGIN example.\n@ 300 IN SOA ns1.pool.test. hostmaster 1 3600 600 86400 60\n@ 300 IN NS ns1.pool.test.\n" +
		"child 300 IN NS ns1.pool.test.\n"
	const ds = "child 300 IN DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE75E5FC4B6BE1B8D93E21ACD8\n"
	h := NewHandler(hs, Config{Signer: signerOfZones(t, dnssec.Options{}, poolKey, childKey)})
	for _, c := range []struct {
		what, parent, want string
	}{
		{"the parent holds the DS", parent + ds, "NOERROR aa | | SOA RRSIG(SOA) NSEC(NSEC NXNAME RRSIG) RRSIG(NSEC)"},
		{"the parent holds none", parent, "NOERROR aa | CDS RRSIG(CDS) |"},
	} {
		if err := hs.ApplyZones(append(slices.Clone(defs), handlespace.ZoneDef{Origin: "example.", File: "example.zone", Records: mustRRs(t, c.parent)})); err != nil {
			t.Fatal(err)
		}
		if got := replySummary(queryDO(t, h, sig, dns.TypeCDS, false, 1232, true)); got != c.want {
			t.Errorf("%s: CDS at the signal name:\n got %s\nwant %s", c.what, got, c.want)
		}
	}
}

// TestUpdatePrereqAtSignal: an UPDATE's prerequisites see RFC 9615's
// signals as queries do (dnsupdate.Signals): the signal's name is in use
// and holds its CDS and CDNSKEY RRsets (value-dependent ones compared
// with what a query gets), the names above it hold nothing, and in a
// signal zone that is not signed there is no signal. The update itself
// registers an element of dyn.pool.test., which is allowed.
func TestUpdatePrereqAtSignal(t *testing.T) {
	const (
		sig = "_dsboot.child.example._signal.ns1.pool.test."
		ent = "_signal.ns1.pool.test."
	)
	poolKey, childKey := genKey(t, "pool.test.", dnssec.Timing{}), genKey(t, "child.example.", dnssec.Timing{})
	for _, signed := range []bool{true, false} {
		keys := []*dnssec.Key{childKey}
		if signed {
			keys = append(keys, poolKey)
		}
		signer := signerOfZones(t, dnssec.Options{}, keys...)
		f := &updFixture{Fixture: updatetest.New(t, signalSpace(t), regcommit.Config{})}
		f.h = NewHandler(f.HS, Config{Updates: f.Reg, Logger: discardLog(), TSIG: updatetest.Keys(), Signer: signer})
		var cds string // the signal's CDS RRset's first record, as a query gets it
		if signed {
			m := queryDO(t, f.h, sig, dns.TypeCDS, false, 1232, false)
			if len(m.Answer) == 0 {
				t.Fatalf("no CDS at %s: %v", sig, m)
			}
			rr := dns.Copy(m.Answer[0])
			rr.Header().Ttl = 0
			cds = rr.String()
		}
		in := func(yes int) int { // the rcode when the signal is served: yes
			if signed {
				return yes
			}
			return -1
		}
		for i, c := range []struct {
			prereq   string
			rcode    int // signed signal zone
			unsigned int // no signal served
		}{
			{"?yxdomain " + sig, dns.RcodeSuccess, dns.RcodeNameError},
			{"?nxdomain " + sig, dns.RcodeYXDomain, dns.RcodeSuccess},
			{"?yxrrset " + sig + " CDS", dns.RcodeSuccess, dns.RcodeNXRrset},
			{"?yxrrset " + sig + " CDNSKEY", dns.RcodeSuccess, dns.RcodeNXRrset},
			{"?nxrrset " + sig + " CDNSKEY", dns.RcodeYXRrset, dns.RcodeSuccess},
			{"?yxrrset " + sig + " A", dns.RcodeNXRrset, dns.RcodeNXRrset},
			{"?yxdomain " + ent, dns.RcodeNameError, dns.RcodeNameError}, // an empty non-terminal
			{"?nxdomain " + ent, dns.RcodeSuccess, dns.RcodeSuccess},
			{"?= " + cds, in(dns.RcodeSuccess), -1},
			{"?= " + otherDigest(cds), in(dns.RcodeNXRrset), -1},
		} {
			want := c.rcode
			if !signed {
				want = c.unsigned
			}
			if want < 0 {
				continue
			}
			label := fmt.Sprintf("s%d", i)
			m := updatetest.Msg(t, append([]string{c.prereq}, updatetest.PE(label, 80, "192.0.2.50", 30)...)...)
			r := f.send(t, m, updatetest.KeyAll)
			if r.Rcode != want {
				t.Errorf("signed %v, %s: %s, want %s", signed, c.prereq, updatetest.Rcode(r), dns.RcodeToString[want])
			}
			registered := f.HS.View().Zone("pool.test.").Pool("dyn") != nil && f.HS.View().Zone("pool.test.").Pool("dyn").Label(label) != nil
			if registered != (want == dns.RcodeSuccess) {
				t.Errorf("signed %v, %s: registered %v", signed, c.prereq, registered)
			}
		}
	}
}

// otherDigest returns the DS-like record rr (presentation form) with the
// last hex digit of its digest changed.
func otherDigest(rr string) string {
	if rr == "" {
		return ""
	}
	last := byte('0')
	if rr[len(rr)-1] == '0' {
		last = '1'
	}
	return rr[:len(rr)-1] + string(last)
}
