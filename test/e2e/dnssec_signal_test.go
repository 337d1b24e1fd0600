package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// childSignalZone is served beside goodZone (pool.example.), its name
// servers ns1.pool.example. (so its signal is in pool.example.) and
// ns.child.example. (inside it: no signal).
const childSignalZone = `$ORIGIN child.example.
$TTL 300
@   SOA ns1.pool.example. hostmaster 1 3600 600 86400 5
@   NS  ns1.pool.example.
@   NS  ns
ns  A   192.0.2.54
`

// TestServeDNSSECSignal: RFC 9615's signal on a real `poolnsd serve`
// with two signed zones, pool.example. and child.example., whose name
// server ns1.pool.example. is in the first. delv, given pool.example.'s
// DS as trust anchor (the signal zone's chain of trust, what a parent
// has), fully validates the CDS and CDNSKEY RRsets at
// _dsboot.child.example._signal.ns1.pool.example., and they equal the
// child's apex RRsets, which delv validates with the child's DS; through
// a rollover's first step (a new key of the child, published, SIGHUP)
// both hold the new key too. With dnssec.signal_off for the child
// (SIGHUP) the name is gone: a validated denial.
func TestServeDNSSECSignal(t *testing.T) {
	t.Parallel()
	delvBin := proctest.LookTool(t, "delv", "bind9-dnsutils")
	dir := daemonDir(t, goodZone)
	writeFile(t, dir, "zones/child.example.zone", childSignalZone)
	data := filepath.Join(dir, "data")
	keygen(t, data, "pool.example")
	keygen(t, data, "child.example")
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	host, port, _ := net.SplitHostPort(addr)
	const signal = "_dsboot.child.example._signal.ns1.pool.example."

	// delvOut asks for name's qtype RRset, validating from zone's DS as
	// `poolnsd dnssec ds` prints it.
	delvOut := func(zone, name, qtype string) string {
		t.Helper()
		out, errs, code := runPoolnsd(t, dir, "dnssec", "ds", zone)
		if code != exitOK {
			t.Fatalf("poolnsd dnssec ds %s: exit %d\n%s%s", zone, code, out, errs)
		}
		var anchor strings.Builder
		anchor.WriteString("trust-anchors {\n")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			rr, err := dns.NewRR(line)
			if err != nil {
				t.Fatalf("dnssec ds: %q: %v", line, err)
			}
			ds := rr.(*dns.DS)
			fmt.Fprintf(&anchor, "  %s static-ds %d %d %d \"%s\";\n", dns.Fqdn(zone), ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest)
		}
		anchor.WriteString("};\n")
		file := writeFile(t, t.TempDir(), "anchor.conf", anchor.String())
		b, _ := exec.Command(delvBin, "@"+host, "-p", port, "-a", file, "+root="+dns.Fqdn(zone), name, qtype).CombinedOutput()
		return string(b)
	}
	// validated returns the RDATA of the qtype records of a fully
	// validated answer, sorted.
	validated := func(zone, name, qtype string) []string {
		t.Helper()
		out := delvOut(zone, name, qtype)
		if !strings.Contains(out, "; fully validated\n") {
			t.Errorf("delv %s %s (anchor %s):\n%s\nwant fully validated", name, qtype, zone, out)
		}
		var rd []string
		for _, line := range strings.Split(out, "\n") {
			rr, err := dns.NewRR(line)
			if err != nil || rr == nil || dns.Type(rr.Header().Rrtype).String() != qtype {
				continue
			}
			if !strings.EqualFold(rr.Header().Name, name) {
				t.Errorf("delv %s %s: record of %s", name, qtype, rr.Header().Name)
			}
			rd = append(rd, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
		slices.Sort(rd)
		return rd
	}
	check := func(step string, keys int) {
		t.Helper()
		for _, qtype := range []string{"CDS", "CDNSKEY"} {
			sig := validated("pool.example", signal, qtype)
			apex := validated("child.example", "child.example.", qtype)
			if len(sig) != keys || !slices.Equal(sig, apex) {
				t.Errorf("%s: signal %s %q; want the child's apex's %q, %d records", step, qtype, sig, apex, keys)
			}
		}
	}
	check("one key", 1)

	// A rollover's first step: the child's new key, published.
	keygen(t, data, "child.example")
	p.hup("the child's new key", func(r logRec) bool {
		return r.Str("msg") == "zone signed" && r.Str("zone") == "child.example." && r.Str("trigger") == "SIGHUP"
	})
	check("new key published", 2)

	// The name server inside the child has no signal.
	if out := delvOut("child.example", "_dsboot.child.example._signal.ns.child.example.", "CDS"); !strings.Contains(out, "; negative response, fully validated\n") {
		t.Errorf("signal under the in-child name server:\n%s\nwant a validated denial", out)
	}

	// dnssec.signal_off, applied on SIGHUP.
	cfgFile := filepath.Join(dir, "poolnsd.yaml")
	base, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "poolnsd.yaml", string(base)+"dnssec:\n  signal_off: [child.example.]\n")
	p.hup("signal_off applied", func(r logRec) bool { return r.Str("msg") == "zone signed" && r.Str("trigger") == "configuration" })
	if out := delvOut("pool.example", signal, "CDS"); !strings.Contains(out, "; negative response, fully validated\n") {
		t.Errorf("dnssec.signal_off: CDS at the signal:\n%s\nwant a validated denial", out)
	}
}

// TestServeDNSSECSignalUpdate: a signed DNS UPDATE (the real nsupdate)
// at an RFC 9615 signal name or below a `_signal` label is REFUSED and
// changes nothing, where before it registered an element `_signal` in a
// new pool dns.pool.example. (the name server's name of the child, so
// that `_signal.dns.pool.example.` held an A RRset beside the signal's
// empty non-terminal, whose NSEC denied it); the signal still equals the
// child's apex, and the same UPDATE at an element's name goes through.
func TestServeDNSSECSignalUpdate(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	dir := daemonDir(t, goodZone, regConfig()...)
	writeFile(t, dir, "zones/child.example.zone", strings.Replace(childSignalZone, "@   NS  ns\n", "@   NS  dns.pool.example.\n", 1))
	key := keyFile(t, dir, "pe-key", regSecret)
	data := filepath.Join(dir, "data")
	keygen(t, data, "pool.example")
	keygen(t, data, "child.example")
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	add := func(name string) []string {
		return []string{
			"check-names off", // nsupdate's own check refuses an A at a name with `_`
			"update add " + name + " 60 SRV 0 1 8080 " + name,
			"update add " + name + " 60 A 192.0.2.77",
		}
	}
	apex := dig(t, addr, "+short", "child.example.", "CDS")
	if len(apex) != 1 {
		t.Fatalf("the child's CDS: %q", apex)
	}
	for _, name := range []string{
		"_signal.dns.pool.example.",                       // above the signal
		"_dsboot.child.example._signal.dns.pool.example.", // the signal
		"_signal.ns1.pool.example.",                       // above the other signal
		"x._signal.pool.example.",                         // a pool `_signal`
	} {
		out, err := nsupdate(t, addr, key, add(name)...)
		if err == nil || !strings.Contains(out, "update failed: REFUSED") {
			t.Errorf("nsupdate at %s: %v, want REFUSED:\n%s", name, err, out)
		}
		if got := dig(t, addr, "+short", name, "A"); len(got) != 0 {
			t.Errorf("A at %s after the refused UPDATE: %q", name, got)
		}
	}
	for _, ns := range []string{"dns", "ns1"} {
		name := "_dsboot.child.example._signal." + ns + ".pool.example."
		if got := dig(t, addr, "+short", name, "CDS"); !slices.Equal(got, apex) {
			t.Errorf("CDS at %s: %q; want the child's apex's %q", name, got, apex)
		}
	}
	from := p.cursor()
	if out, err := nsupdate(t, addr, key, add("pe1.dns.pool.example.")...); err != nil {
		t.Fatalf("nsupdate at an element's name: %v\n%s", err, out)
	}
	p.waitLog(from, "the registration", registeredLine("pe1", true))
}
