package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/dnssec"
)

// keyCmd runs "poolnsd dnssec args..." with data as the data directory.
func runDNSSEC(t *testing.T, data string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	full := append([]string{"dnssec", args[0], "--data", data}, args[1:]...)
	code = run(full, &out, &errb)
	return code, out.String(), errb.String()
}

var tagRe = regexp.MustCompile(`key (\d+) \(`)

func keygen(t *testing.T, data string, args ...string) uint16 {
	t.Helper()
	code, out, errs := runDNSSEC(t, data, append([]string{"keygen"}, args...)...)
	if code != exitOK {
		t.Fatalf("keygen %v: exit %d\n%s%s", args, code, out, errs)
	}
	m := tagRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keygen printed no tag:\n%s", out)
	}
	tag, _ := strconv.Atoi(m[1])
	return uint16(tag)
}

// TestDNSSECRollover walks the documented rollover with the commands:
// pre-publish the new key, sign with it, retire the old one, delete it;
// the keys directory loads at each step with the keys signing that the
// procedure says.
func TestDNSSECRollover(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	keys := filepath.Join(data, "keys")
	state := func(at time.Time) (signers, published []uint16) {
		t.Helper()
		ks, err := dnssec.Load(keys, at)
		if err != nil {
			t.Fatal(err)
		}
		z := ks.Zone("pool.example.")
		for _, k := range z.Signers() {
			signers = append(signers, k.Tag)
		}
		for _, k := range z.Published() {
			published = append(published, k.Tag)
		}
		return
	}
	has := func(list []uint16, tags ...uint16) bool {
		if len(list) != len(tags) {
			return false
		}
		for _, tg := range tags {
			found := false
			for _, x := range list {
				found = found || x == tg
			}
			if !found {
				return false
			}
		}
		return true
	}

	old := keygen(t, data, "pool.example")
	if s, p := state(time.Now()); !has(s, old) || !has(p, old) {
		t.Fatalf("first key: signers %v published %v", s, p)
	}
	st, err := os.Stat(filepath.Join(keys, dnssec.BaseName("pool.example.", 13, old)+".private"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key file: %v %v; want mode 0600", st.Mode(), err)
	}

	// 1. Pre-publish: in the DNSKEY RRset, not signing.
	newTag := keygen(t, data, "pool.example")
	if s, p := state(time.Now()); !has(s, old) || !has(p, old, newTag) {
		t.Fatalf("after pre-publishing: signers %v published %v", s, p)
	}
	_, out, _ := runDNSSEC(t, data, "status", "pool.example")
	for _, want := range []string{"published", "signs DNSKEY only", "activate it after", "DS the parent should hold", "CDS and CDNSKEY at the apex: those of these DS"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	for flag, want := range map[string]string{
		"--dnssec.cds_off=pool.example":    "CDS and CDNSKEY at the apex: none (dnssec.cds_off)",
		"--dnssec.cds_delete=pool.example": "CDS and CDNSKEY at the apex: delete (dnssec.cds_delete)",
	} {
		if _, out, errs := runDNSSEC(t, data, "status", flag, "pool.example"); !strings.Contains(out, want) {
			t.Errorf("status %s lacks %q:\n%s%s", flag, want, out, errs)
		}
	}
	_, ds, _ := runDNSSEC(t, data, "ds", "pool.example")
	if strings.Count(ds, " IN DS ") != 2 {
		t.Errorf("ds during the rollover:\n%s; want both keys' DS", ds)
	}

	// 2. Sign with the new key: not before dnssec.dnskey_ttl (3600 s)
	// has passed since its publication (or with --force, standing for
	// the wait here), 3. retire the old one.
	code, _, errs := runDNSSEC(t, data, "activate", "pool.example", strconv.Itoa(int(newTag)))
	if code != exitRuntime || !strings.Contains(errs, "not done") || !strings.Contains(errs, "--force") {
		t.Errorf("activating a key just published: exit %d %q; want refused", code, errs)
	}
	if s, _ := state(time.Now().Add(2 * time.Hour)); !has(s, old) {
		t.Fatalf("a refused activate changed the files: signers in 2h %v", s)
	}
	if code, out, errs := runDNSSEC(t, data, "activate", "--force", "pool.example", strconv.Itoa(int(newTag))); code != exitOK {
		t.Fatalf("activate --force: %d %s%s", code, out, errs)
	}
	if s, _ := state(time.Now()); !has(s, old, newTag) {
		t.Fatalf("after activate: signers %v", s)
	}
	if code, out, errs := runDNSSEC(t, data, "retire", "pool.example", strconv.Itoa(int(old))); code != exitOK {
		t.Fatalf("retire: %d %s%s", code, out, errs)
	}
	if s, p := state(time.Now()); !has(s, newTag) || !has(p, old, newTag) {
		t.Fatalf("after retire: signers %v published %v", s, p)
	}
	_, ds, _ = runDNSSEC(t, data, "ds", "pool.example")
	if strings.Count(ds, " IN DS ") != 1 || !strings.Contains(ds, " DS "+strconv.Itoa(int(newTag))+" ") {
		t.Errorf("ds after retiring the old key:\n%s", ds)
	}

	// Retiring the last active key is refused, and changes nothing.
	code, _, errs = runDNSSEC(t, data, "retire", "pool.example", strconv.Itoa(int(newTag)))
	if code != exitRuntime || !strings.Contains(errs, "none is active") {
		t.Errorf("retiring the last key: exit %d %s", code, errs)
	}
	code, _, errs = runDNSSEC(t, data, "retire", "--at", "+2h", "pool.example", strconv.Itoa(int(newTag)))
	if code != exitRuntime || !strings.Contains(errs, "none is active") {
		t.Errorf("retiring the last key in 2 hours: exit %d %s", code, errs)
	}
	if s, _ := state(time.Now().Add(3 * time.Hour)); !has(s, newTag) {
		t.Errorf("a refused retire changed the files: signers in 3h %v", s)
	}

	// 4. Delete the old key (its DS gone from the parent).
	if code, out, errs := runDNSSEC(t, data, "delete", "pool.example", strconv.Itoa(int(old))); code != exitOK {
		t.Fatalf("delete: %d %s%s", code, out, errs)
	}
	if s, p := state(time.Now()); !has(s, newTag) || !has(p, newTag) {
		t.Fatalf("after delete: signers %v published %v", s, p)
	}
	_, out, _ = runDNSSEC(t, data, "status", "pool.example")
	if !strings.Contains(out, "removed") {
		t.Errorf("status after delete:\n%s", out)
	}

	// Scheduled: a new key active in an hour (the DNSKEY TTL after its
	// publication: allowed); the registrar's keys change then by
	// themselves (NextEvent).
	third := keygen(t, data, "--state", "published", "pool.example")
	if code, _, errs := runDNSSEC(t, data, "activate", "--at", "+1h", "pool.example", strconv.Itoa(int(third))); code != exitOK {
		t.Fatal(errs)
	}
	ks, err := dnssec.Load(keys, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if next := ks.NextEvent(); next.Before(time.Now().Add(59*time.Minute)) || next.After(time.Now().Add(61*time.Minute)) {
		t.Errorf("next event %v; want in an hour", next)
	}
	if s, _ := state(time.Now().Add(2 * time.Hour)); !has(s, newTag, third) {
		t.Errorf("in 2 hours: signers %v", s)
	}
}

// TestDNSSECActivateWaitsForTTL: activate refuses to sign with a key
// before dnssec.dnskey_ttl has passed since its publication, saying from
// when it may, and allows that time, a key published long enough ago,
// and --force.
func TestDNSSECActivateWaitsForTTL(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	keygen(t, data, "pool.example")
	fresh := keygen(t, data, "pool.example") // published now
	code, _, errs := runDNSSEC(t, data, "activate", "--at", "+59m", "pool.example", strconv.Itoa(int(fresh)))
	ks, err := dnssec.Load(filepath.Join(data, "keys"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var pub time.Time
	for _, k := range ks.Zone("pool.example.").Keys {
		if k.Tag == fresh {
			pub = k.Timing.Publish
		}
	}
	ready := pub.Add(time.Hour).UTC().Format(time.RFC3339)
	if code != exitRuntime || !strings.Contains(errs, "until "+ready) || !strings.Contains(errs, "--at "+ready) {
		t.Errorf("activate 59 minutes after publication: exit %d %q; want refused, naming %s", code, errs, ready)
	}
	if code, _, errs := runDNSSEC(t, data, "activate", "--at", ready, "pool.example", strconv.Itoa(int(fresh))); code != exitOK {
		t.Errorf("activate at publication + TTL: exit %d %q", code, errs)
	}

	// Published two hours ago: may sign now. A shorter TTL from the
	// configuration shortens the wait.
	old := keygen(t, data, "--at", time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339), "pool.example")
	if code, _, errs := runDNSSEC(t, data, "activate", "pool.example", strconv.Itoa(int(old))); code != exitOK {
		t.Errorf("activate a key published 2 h ago: exit %d %q", code, errs)
	}
	t.Setenv("POOLNSD_DNSSEC_DNSKEY_TTL", "60")
	short := keygen(t, data, "pool.example")
	if code, _, errs := runDNSSEC(t, data, "activate", "--at", "+61s", "pool.example", strconv.Itoa(int(short))); code != exitOK {
		t.Errorf("activate 61 s after publication with dnskey_ttl 60: exit %d %q", code, errs)
	}
	forced := keygen(t, data, "pool.example")
	if code, _, errs := runDNSSEC(t, data, "activate", "--force", "pool.example", strconv.Itoa(int(forced))); code != exitOK {
		t.Errorf("activate --force: exit %d %q", code, errs)
	}
}

func TestDNSSECCommandErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	keygen(t, data, "pool.example")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ds", "other.example"}, exitRuntime, "no keys for other.example."},
		{[]string{"activate", "pool.example", "1"}, exitRuntime, "no key 1 for pool.example."},
		{[]string{"activate", "pool.example", "x"}, exitUsage, `"x" is not a key tag`},
		{[]string{"keygen", "--algorithm", "7", "pool.example"}, exitUsage, `unknown algorithm "7"`},
		{[]string{"keygen", "--at", "soon", "pool.example"}, exitUsage, `time "soon"`},
		{[]string{"keygen"}, exitUsage, "wrong number of arguments"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
	} {
		code, _, errs := runDNSSEC(t, data, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
	// A bad key file: every command says which and why.
	bad := filepath.Join(data, "keys", "Kpool.example.+013+00001.key")
	os.WriteFile(bad, []byte("pool.example. IN A 192.0.2.1\n"), 0o644)
	code, _, errs := runDNSSEC(t, data, "status")
	if code != exitRuntime || !strings.Contains(errs, bad+":1: a A record; want DNSKEY") {
		t.Errorf("status with a bad key file: exit %d %q", code, errs)
	}
}

// TestDNSSECStatusSignals: status lists a zone's RFC 9615 signals as the
// zone files and keys make them (where each is, its CDS key tags, or why
// there is none), the signals a zone holds for others, and why a zone
// has none at all (dnssec.signal_off, cds_off, cds_delete, no zone file,
// its DS in a parent served here).
func TestDNSSECStatusSignals(t *testing.T) {
	dir := t.TempDir()
	data, zdir := filepath.Join(dir, "data"), filepath.Join(dir, "zones")
	if err := os.Mkdir(zdir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeZone := func(origin, body string) {
		t.Helper()
		z := "$ORIGIN " + origin + "\n$TTL 300\n@ SOA ns1.pool.example. hostmaster 1 3600 600 86400 5\n" + body
		if err := os.WriteFile(filepath.Join(zdir, origin+"zone"), []byte(z), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeZone("pool.example.", "@ NS ns1\nns1 A 192.0.2.53\n")
	writeZone("child.example.", "@ NS ns1.pool.example.\n@ NS ns\n@ NS ns.elsewhere.net.\nns A 192.0.2.54\n")
	keygen(t, data, "pool.example")
	child := keygen(t, data, "child.example")
	status := func(args ...string) map[string]string {
		t.Helper()
		code, out, errs := runDNSSEC(t, data, append([]string{"status", "--zones", zdir}, args...)...)
		if code != exitOK {
			t.Fatalf("status %v: exit %d\n%s%s", args, code, out, errs)
		}
		sections := map[string]string{}
		for _, s := range strings.Split(out, "\n\n") {
			zone, _, _ := strings.Cut(strings.TrimPrefix(s, "zone "), ":")
			sections[zone] = s
		}
		return sections
	}
	line := regexp.MustCompile
	has := func(what, text string, res ...*regexp.Regexp) {
		t.Helper()
		for _, re := range res {
			if !re.MatchString(text) {
				t.Errorf("%s lacks %s:\n%s", what, re, text)
			}
		}
	}
	tag := strconv.Itoa(int(child))
	s := status()
	has("child.example.", s["child.example."],
		line(`signals \(RFC 9615\) under the zone's name servers: 1 of 3 published\n`),
		line(`\n  ns1\.pool\.example\. +_dsboot\.child\.example\._signal\.ns1\.pool\.example\. +pool\.example\. +`+tag+`\n`),
		line(`\n  ns\.child\.example\. +- +- +none: the name server is inside the zone`),
		line(`\n  ns\.elsewhere\.net\. +_dsboot\.child\.example\._signal\.ns\.elsewhere\.net\. +- +none: no zone served here holds it`))
	has("pool.example.", s["pool.example."],
		line(`\n  ns1\.pool\.example\. +- +- +none: the name server is inside the zone`),
		line(`signals of other zones held in this zone: 1\n`),
		line(`\n  _dsboot\.child\.example\._signal\.ns1\.pool\.example\. +child\.example\. +`+tag+`\n`))

	for flag, want := range map[string]string{
		"--dnssec.signal_off=child.example": "none (dnssec.signal_off)",
		"--dnssec.cds_off=child.example":    "none (dnssec.cds_off",
		"--dnssec.cds_delete=child.example": "none (dnssec.cds_delete",
	} {
		s := status(flag)
		has(flag, s["child.example."], line(`under the zone's name servers: `+regexp.QuoteMeta(want)))
		if strings.Contains(s["pool.example."], "held in this zone") {
			t.Errorf("%s: pool.example. still holds a signal:\n%s", flag, s["pool.example."])
		}
	}
	// The parent served here, with the child's DS: no signals; without
	// the DS, they are back.
	writeZone("example.", "@ NS ns1.pool.example.\nchild NS ns1.pool.example.\n"+
		"child DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE75E5FC4B6BE1B8D93E21ACD8\n")
	s = status()
	has("child.example., its DS in example.", s["child.example."],
		line(`under the zone's name servers: none: its parent zone example\. is served here and holds its DS`))
	if strings.Contains(s["pool.example."], "held in this zone") {
		t.Errorf("the child's DS in example.: pool.example. still holds its signal:\n%s", s["pool.example."])
	}
	writeZone("example.", "@ NS ns1.pool.example.\nchild NS ns1.pool.example.\n")
	has("child.example., delegated without a DS", status("child.example")["child.example."], line(`: 1 of 3 published\n`))
	if err := os.Remove(filepath.Join(zdir, "example.zone")); err != nil {
		t.Fatal(err)
	}

	// The signal zone unsigned (its keys gone): the signal is not
	// published.
	kf, _ := filepath.Glob(filepath.Join(data, "keys", "Kpool.example.+*"))
	for _, f := range kf {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if len(kf) != 2 {
		t.Fatalf("pool.example.'s key files: %q", kf)
	}
	has("child.example., pool.example. unsigned", status("child.example")["child.example."], line(`: 0 of 3 published
`),
		line(`
  ns1\.pool\.example\. +_dsboot\.child\.example\._signal\.ns1\.pool\.example\. +pool\.example\. +none: the zone that holds it is unsigned\n`))
	keygen(t, data, "gone.example")
	has("gone.example.", status("gone.example")["gone.example."], line(`none: the zone is not served here \(no zone file in `))
	writeZone("bad.example.", "@ NS\n")
	has("bad zones", status("child.example")["child.example."], line(`not known: the zones in .* do not load \(poolnsd check says why\)`))
}
