package dnssec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/poolnsd/poolnsd/internal/proctest"
)

// Keys that other tools make load and sign; keys that poolnsd makes load
// in other tools. Real tools: dnssec-keygen, dnssec-settime,
// dnssec-dsfromkey, dnssec-signzone (bind9-utils), ldns-keygen,
// ldns-key2ds (ldnsutils), keymgr (knot).

func runTool(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// signsWith loads dir and checks that the zone's keys (want of them, by
// tag) sign an RRset that their DNSKEYs verify.
func signsWith(t *testing.T, dir, zone string, want int) *ZoneKeys {
	t.Helper()
	ks, err := Load(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	zk := ks.Zone(zone)
	if zk == nil || len(zk.Keys) != want {
		t.Fatalf("zone %s: %v keys; want %d", zone, zk, want)
	}
	s := NewSigner(Options{})
	s.SetKeys(ks)
	z := s.Zone(zone)
	set := rrs(t, "web."+zone+" 5 IN A 10.0.0.1")
	sigs, err := z.Sign(set)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, z, sigs, set, time.Now())
	keys, ksigs, err := z.DNSKEY()
	if err != nil {
		t.Fatal(err)
	}
	verify(t, z, ksigs, keys, time.Now())
	return zk
}

func TestBINDKeysLoad(t *testing.T) {
	bin := proctest.LookTool(t, "dnssec-keygen", "bind9-utils")
	dir := t.TempDir()
	runTool(t, dir, bin, "-q", "-K", dir, "-a", "ECDSAP256SHA256", "-f", "KSK", "bind.example")
	runTool(t, dir, bin, "-q", "-K", dir, "-a", "ECDSAP256SHA256", "bind.example")
	runTool(t, dir, bin, "-q", "-K", dir, "-a", "ED25519", "ed.example")
	zk := signsWith(t, dir, "bind.example.", 2)
	for _, k := range zk.Keys {
		if k.Timing.Created.IsZero() || k.Timing.Activate.IsZero() {
			t.Errorf("key %d: BIND's timing not read: %+v", k.Tag, k.Timing)
		}
	}
	if len(zk.Signers()) != 1 || zk.Signers()[0].SEP() {
		t.Errorf("with BIND's KSK and ZSK, signers %v; want the ZSK", zk.Signers())
	}
	signsWith(t, dir, "ed.example.", 1)
}

func TestLDNSKeysLoad(t *testing.T) {
	bin := proctest.LookTool(t, "ldns-keygen", "ldnsutils")
	dir := t.TempDir()
	runTool(t, dir, bin, "-a", "ECDSAP256SHA256", "-k", "ldns.example")
	runTool(t, dir, bin, "-a", "ED25519", "-k", "ldns.example")
	zk := signsWith(t, dir, "ldns.example.", 2) // its .ds files are left alone
	for i, k := range zk.Keys {
		if zk.States[i] != StateActive {
			t.Errorf("ldns key %d without timing: %s; want active", k.Tag, zk.States[i])
		}
	}
}

// TestKnotKeysImport: keymgr keeps keys as PEM files in its KASP
// database; ImportPEM makes the same DNSKEY that keymgr prints.
func TestKnotKeysImport(t *testing.T) {
	bin := proctest.LookTool(t, "keymgr", "knot")
	dir := t.TempDir()
	kasp := filepath.Join(dir, "kasp")
	os.Mkdir(kasp, 0o700)
	for _, alg := range []string{"13", "15"} {
		id := strings.TrimSpace(runTool(t, dir, bin, "-D", kasp, "knot.example.", "generate", "algorithm="+alg, "ksk=yes", "zsk=yes"))
		pemData, err := os.ReadFile(filepath.Join(kasp, "keys", id+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ImportPEM("knot.example.", pemData, FlagsCSK, Timing{})
		if err != nil {
			t.Fatal(err)
		}
		out := runTool(t, dir, bin, "-D", kasp, "knot.example.", "dnskey", id)
		want := rr(t, strings.TrimSpace(out)).(*dns.DNSKEY)
		if want.PublicKey != k.DNSKEY.PublicKey || want.Algorithm != k.Algorithm || want.KeyTag() != k.Tag {
			t.Errorf("keymgr says %v; imported %v", want, k.DNSKEY)
		}
		if err := k.Write(filepath.Join(dir, "keys")); err != nil {
			t.Fatal(err)
		}
	}
	signsWith(t, filepath.Join(dir, "keys"), "knot.example.", 2)
}

// TestOurKeysInOtherTools: BIND, ldns and Knot read the files poolnsd
// writes: the same DS, the same DNSKEY, BIND signs a zone with our
// private key, and BIND's timing edits load back.
func TestOurKeysInOtherTools(t *testing.T) {
	dsfromkey := proctest.LookTool(t, "dnssec-dsfromkey", "bind9-utils")
	signzone := proctest.LookTool(t, "dnssec-signzone", "bind9-utils")
	settime := proctest.LookTool(t, "dnssec-settime", "bind9-utils")
	key2ds := proctest.LookTool(t, "ldns-key2ds", "ldnsutils")
	keymgr := proctest.LookTool(t, "keymgr", "knot")
	now := time.Now().UTC().Truncate(time.Second)
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519} {
		t.Run(AlgorithmName(alg), func(t *testing.T) {
			dir := t.TempDir()
			k := writeKey(t, dir, "ours.example.", alg, Timing{Created: now, Publish: now, Activate: now})
			base := strings.TrimSuffix(filepath.Base(k.File), ".key")
			ds := k.DS()

			got := rr(t, strings.TrimSpace(runTool(t, dir, dsfromkey, "-2", k.File))).(*dns.DS)
			if !strings.EqualFold(got.Digest, ds.Digest) || got.KeyTag != k.Tag {
				t.Errorf("dnssec-dsfromkey: %v; ours %v", got, ds)
			}
			runTool(t, dir, key2ds, "-n", "-2", k.File)
			if out := runTool(t, dir, key2ds, "-n", "-2", k.File); !strings.Contains(strings.ToUpper(out), strings.ToUpper(ds.Digest)) {
				t.Errorf("ldns-key2ds: %s; ours %v", out, ds)
			}

			zone := filepath.Join(dir, "ours.example.zone")
			os.WriteFile(zone, []byte("$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 5\n@ NS ns1\nns1 A 192.0.2.53\n"), 0o644)
			runTool(t, dir, signzone, "-K", dir, "-o", "ours.example.", "-f", zone+".signed", "-z", "-S", zone)
			signed, _ := os.ReadFile(zone + ".signed")
			zp := dns.NewZoneParser(strings.NewReader(string(signed)), "ours.example.", "")
			var soa []dns.RR
			var sig *dns.RRSIG
			for r, ok := zp.Next(); ok; r, ok = zp.Next() {
				if r.Header().Rrtype == dns.TypeSOA {
					soa = append(soa, r)
				}
				if s, ok := r.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeSOA {
					sig = s
				}
			}
			if sig == nil || len(soa) != 1 {
				t.Fatalf("dnssec-signzone wrote no signed SOA:\n%s", signed)
			}
			if err := sig.Verify(k.DNSKEY, soa); err != nil || sig.KeyTag != k.Tag {
				t.Errorf("BIND's signature with our private key (tag %d) does not verify with our DNSKEY: %v", sig.KeyTag, err)
			}

			kasp := filepath.Join(dir, "kasp")
			os.Mkdir(kasp, 0o700)
			runTool(t, dir, keymgr, "-D", kasp, "ours.example.", "import-bind", k.File)
			out := runTool(t, dir, keymgr, "-D", kasp, "ours.example.", "dnskey")
			if knot := rr(t, strings.TrimSpace(out)).(*dns.DNSKEY); knot.PublicKey != k.DNSKEY.PublicKey {
				t.Errorf("keymgr import-bind: %v; ours %v", knot, k.DNSKEY)
			}

			inactive := now.Add(48 * time.Hour)
			runTool(t, dir, settime, "-K", dir, "-I", inactive.Format(timeFormat), base)
			ks, err := Load(dir, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := ks.Zone("ours.example.").Keys[0].Timing.Inactive; !got.Equal(inactive) {
				t.Errorf("after dnssec-settime -I: Inactive %v; want %v", got, inactive)
			}
			if ks.NextEvent() != inactive {
				t.Errorf("next event %v", ks.NextEvent())
			}
		})
	}
}
