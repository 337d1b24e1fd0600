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
	"github.com/poolnsd/poolnsd/dnssec"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// TestServeDNSSECCDSRollover: the CDS and CDNSKEY RRsets of a real
// `poolnsd serve` through the key rollover of docs/dnssec.md, run with
// its commands and SIGHUP. At each step delv, given as trust anchor the
// DS set the parent holds then, says "fully validated" for both; the CDS
// records are what `poolnsd dnssec ds` prints and what BIND's
// `dnssec-dsfromkey -2` makes of the key files, the CDNSKEY records the
// keys' DNSKEYs. Then, with dnssec.cds_delete, the delete records of RFC
// 8078 §4, validated too, and with dnssec.cds_off none; both applied on
// SIGHUP.
func TestServeDNSSECCDSRollover(t *testing.T) {
	t.Parallel()
	delvBin := proctest.LookTool(t, "delv", "bind9-dnsutils")
	fromKey := proctest.LookTool(t, "dnssec-dsfromkey", "bind9-utils")
	dir := daemonDir(t, goodZone)
	data := filepath.Join(dir, "data")
	keys := filepath.Join(data, "keys")
	oldTag := keygen(t, data, "pool.example")
	p := startDaemon(t, dir)
	addr, _ := p.ready()
	host, port, _ := net.SplitHostPort(addr)
	signed := func(r logRec) bool { return r.Str("msg") == "zone signed" && r.Str("trigger") == "SIGHUP" }

	run := func(args ...string) string {
		t.Helper()
		out, errs, code := runPoolnsd(t, dir, args...)
		if code != exitOK {
			t.Fatalf("poolnsd %v: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	// rdataOf returns, sorted, what f makes of each record of zone-file
	// lines text that it takes (ok).
	rdataOf := func(text string, f func(dns.RR) (string, bool)) []string {
		var out []string
		for _, line := range strings.Split(text, "\n") {
			if line = strings.TrimSpace(line); line == "" || line[0] == ';' {
				continue
			}
			if rr, err := dns.NewRR(line); err == nil && rr != nil {
				if v, ok := f(rr); ok {
					out = append(out, v)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	// dsOf returns the DS and CDS records of text as "tag alg type
	// DIGEST" (digest in upper case).
	dsOf := func(text string) []string {
		return rdataOf(text, func(rr dns.RR) (string, bool) {
			ds, ok := rr.(*dns.DS)
			if c, isCDS := rr.(*dns.CDS); isCDS {
				ds, ok = &c.DS, true
			}
			if !ok {
				return "", false
			}
			return fmt.Sprintf("%d %d %d %s", ds.KeyTag, ds.Algorithm, ds.DigestType, strings.ToUpper(ds.Digest)), true
		})
	}
	// keysOf returns the DNSKEY and CDNSKEY records of text as "flags
	// protocol algorithm key".
	keysOf := func(text string) []string {
		return rdataOf(text, func(rr dns.RR) (string, bool) {
			k, ok := rr.(*dns.DNSKEY)
			if c, isCDNSKEY := rr.(*dns.CDNSKEY); isCDNSKEY {
				k, ok = &c.DNSKEY, true
			}
			if !ok {
				return "", false
			}
			return fmt.Sprintf("%d %d %d %s", k.Flags, k.Protocol, k.Algorithm, k.PublicKey), true
		})
	}
	// delvOut asks for the CDS or CDNSKEY RRset, validating with the DS
	// records of parent (zone-file lines) as trust anchor.
	delvOut := func(qtype string, parent string) string {
		t.Helper()
		var anchor strings.Builder
		anchor.WriteString("trust-anchors {\n")
		for _, ds := range dsOf(parent) {
			f := strings.Fields(ds)
			fmt.Fprintf(&anchor, "  pool.example. static-ds %s %s %s \"%s\";\n", f[0], f[1], f[2], f[3])
		}
		anchor.WriteString("};\n")
		file := writeFile(t, t.TempDir(), "anchor.conf", anchor.String())
		out, _ := exec.Command(delvBin, "@"+host, "-p", port, "-a", file, "+root=pool.example.", "pool.example.", qtype).CombinedOutput()
		return string(out)
	}
	// delv is delvOut of an answer that must validate.
	delv := func(qtype string, parent string) string {
		t.Helper()
		out := delvOut(qtype, parent)
		if !strings.Contains(out, "; fully validated\n") {
			t.Errorf("delv pool.example. %s, trust anchor %v:\n%s\nwant fully validated", qtype, dsOf(parent), out)
		}
		return out
	}
	// check: the CDS and CDNSKEY RRsets validate with the parent's DS set
	// and name exactly the keys of tags (their DS as `poolnsd dnssec ds`
	// and dnssec-dsfromkey -2 make them, their DNSKEY as in their files).
	check := func(step, parent string, tags ...uint16) {
		t.Helper()
		var wantDS, wantKeys []string
		for _, tag := range tags {
			file := filepath.Join(keys, dnssec.BaseName("pool.example.", dns.ECDSAP256SHA256, tag)+".key")
			out, err := exec.Command(fromKey, "-2", file).CombinedOutput()
			if err != nil {
				t.Fatalf("dnssec-dsfromkey -2 %s: %v\n%s", file, err, out)
			}
			wantDS = append(wantDS, dsOf(string(out))...)
			k, err := dnssec.ReadKey(file)
			if err != nil {
				t.Fatal(err)
			}
			wantKeys = append(wantKeys, keysOf(k.DNSKEY.String())...)
		}
		slices.Sort(wantDS)
		slices.Sort(wantKeys)
		if got := dsOf(run("dnssec", "ds", "pool.example")); !slices.Equal(got, wantDS) {
			t.Errorf("%s: poolnsd dnssec ds: %v; dnssec-dsfromkey -2: %v", step, got, wantDS)
		}
		if got := dsOf(delv("CDS", parent)); !slices.Equal(got, wantDS) {
			t.Errorf("%s: CDS %v, want %v", step, got, wantDS)
		}
		if got := keysOf(delv("CDNSKEY", parent)); !slices.Equal(got, wantKeys) {
			t.Errorf("%s: CDNSKEY %v, want %v", step, got, wantKeys)
		}
	}

	parent := run("dnssec", "ds", "pool.example") // OLD's
	check("OLD alone", parent, oldTag)

	// 1. Pre-publish the new key: the CDS RRset holds NEW's DS beside OLD's.
	newTag := keygen(t, data, "pool.example")
	p.hup("step 1", signed)
	check("1: NEW published", parent, oldTag, newTag)

	// 2. The parent takes what the CDS RRset says: OLD's and NEW's DS.
	parent = run("dnssec", "ds", "pool.example")
	check("2: the parent has both", parent, oldTag, newTag)

	// 3. Sign with the new key, retire the old one: the CDS RRset holds
	// NEW's DS alone, still signed by OLD too.
	run("dnssec", "activate", "--force", "pool.example", fmt.Sprint(newTag))
	run("dnssec", "retire", "pool.example", fmt.Sprint(oldTag))
	p.hup("step 3", signed)
	check("3: NEW signs, OLD retired", parent, newTag)

	// 4. The parent takes OLD's DS out; 5. delete OLD.
	parent = run("dnssec", "ds", "pool.example")
	check("4: the parent has NEW's", parent, newTag)
	run("dnssec", "delete", "pool.example", fmt.Sprint(oldTag))
	p.hup("step 5", signed)
	check("5: OLD deleted", parent, newTag)

	// dnssec.cds_delete, applied on SIGHUP: the records that ask the
	// parent to remove the DS RRset (RFC 8078 §4), signed.
	cfgFile := filepath.Join(dir, "poolnsd.yaml")
	base, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	reconfigured := func(r logRec) bool { return r.Str("msg") == "zone signed" && r.Str("trigger") == "configuration" }
	writeFile(t, dir, "poolnsd.yaml", string(base)+"dnssec:\n  cds_delete: [pool.example.]\n")
	p.hup("cds_delete applied", reconfigured)
	if out := delv("CDS", parent); !strings.Contains(out, "\tCDS\t0 0 0 00\n") {
		t.Errorf("dnssec.cds_delete: CDS:\n%s\nwant 0 0 0 00", out)
	}
	if out := delv("CDNSKEY", parent); !strings.Contains(out, "\tCDNSKEY\t0 3 0 AA== ") {
		t.Errorf("dnssec.cds_delete: CDNSKEY:\n%s\nwant 0 3 0 AA==", out)
	}

	// dnssec.cds_off, applied on SIGHUP: none; the NODATA validates and
	// its NSEC lists neither type.
	writeFile(t, dir, "poolnsd.yaml", string(base)+"dnssec:\n  cds_off: [pool.example.]\n")
	p.hup("cds_off applied", reconfigured)
	for _, qtype := range []string{"CDS", "CDNSKEY"} {
		out := delvOut(qtype, parent)
		if !strings.Contains(out, "; negative response, fully validated\n") || !strings.Contains(out, " SOA RRSIG NSEC DNSKEY\n") {
			t.Errorf("dnssec.cds_off: %s:\n%s\nwant a validated NODATA whose NSEC ends at DNSKEY", qtype, out)
		}
	}

	// Back to the default: the keys' again.
	writeFile(t, dir, "poolnsd.yaml", string(base))
	p.hup("the default again", reconfigured)
	check("the default again", parent, newTag)
}
