package zones

import (
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

// badFiles maps each zone file in testdata/bad to its exact error, read
// with testdata/bad as the root.
var badFiles = map[string]string{
	"address.zone":        `address.zone:9:11: bad PE address "10.0.0.300:80"; want ADDR:PORT, IPv6 as [ADDR]:PORT`,
	"before-pool.zone":    `before-pool.zone:7:1: PE for pool web before its $POOL directive; want $POOL web first`,
	"collision.zone":      `collision.zone:8:1: SRV record at _http._tcp.web.pool.example., a name of pool web (line 7); want static records outside the names of pools`,
	"dup-element.zone":    `dup-element.zone:9:11: element 10.0.0.1:80 (id ` + idOf("10.0.0.1", 80) + `, from its first address and port) is already in pool web at line 8; want each first ADDR:PORT once per pool`,
	"include.zone":        `inc/broken.inc:4:11: bad PE address "2001:db8::2:8080"; want ADDR:PORT, IPv6 as [ADDR]:PORT`,
	"key-twice.zone":      `key-twice.zone:8:32: key weight given twice (first at column 23); want each key at most once`,
	"loop.zone":           `inc/loop.inc:1:10: $INCLUDE loop: loop.zone includes inc/loop.inc includes loop.zone; want no file to include itself`,
	"no-ns.zone":          `no-ns.zone:3:1: no NS record at the zone's origin pool.example.; want at least one`,
	"no-origin.zone":      `no-origin.zone:2:1: "@" with no $ORIGIN; want $ORIGIN before it or an absolute name ending in a dot`,
	"out-of-zone.zone":    `out-of-zone.zone:7:1: record www.example.com. is outside the zone pool.example.; want names at or under the zone's origin`,
	"parens.zone":         `parens.zone:10:11: bad MX record: garbage after rdata "junk"; want PREFERENCE EXCHANGE`,
	"policy.zone":         `policy.zone:9:18: ` + policyError("lru"),
	"static-at-pool.zone": `static-at-pool.zone:8:1: A record at web.pool.example., a name of pool web (line 7); want static records outside the names of pools`,
	"timeout.zone":        `timeout.zone:9:17: probe timeout 500ms is not shorter than the interval 500ms; want timeout < interval`,
	"two-soa.zone":        `two-soa.zone:7:1: second SOA record (the first is at line 3); want exactly one SOA record per file, at the zone's origin`,
	"uri.zone":            `uri.zone:7:41: unknown placeholder "{host}" in uri; want {name}, {addr} or {port}`,
}

func zoneFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".zone") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

func TestTestdataBad(t *testing.T) {
	fsys := os.DirFS("testdata/bad")
	names := zoneFiles(t, "testdata/bad")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			want, ok := badFiles[name]
			if !ok {
				t.Fatalf("testdata/bad/%s has no expected error in badFiles", name)
			}
			_, err := Parse(fsys, name)
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
		})
	}
	for name := range badFiles {
		if _, err := os.Stat("testdata/bad/" + name); err != nil {
			t.Errorf("badFiles names %s: %v", name, err)
		}
	}
	// As a directory: every file's error, joined, with DIR/ names.
	_, err := LoadDir("testdata/bad")
	if err == nil {
		t.Fatal("LoadDir(testdata/bad): no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(names) {
		t.Fatalf("LoadDir(testdata/bad): %d lines for %d files:\n%v", len(lines), len(names), err)
	}
	for i, name := range names {
		want := "testdata/bad/" + badFiles[name]
		if name == "loop.zone" { // the chain names files as messages do
			want = "testdata/bad/inc/loop.inc:1:10: $INCLUDE loop: testdata/bad/loop.zone includes testdata/bad/inc/loop.inc includes testdata/bad/loop.zone; want no file to include itself"
		}
		if lines[i] != want {
			t.Errorf("LoadDir line %d\n got %s\nwant %s", i, lines[i], want)
		}
	}
}

func TestTestdataGood(t *testing.T) {
	fsys := os.DirFS("testdata/good")
	names := zoneFiles(t, "testdata/good")
	var defs []handlespace.ZoneDef
	for _, name := range names {
		def, err := Parse(fsys, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := handlespace.New(handlespace.Options{}).ApplyZones([]handlespace.ZoneDef{*def}); err != nil {
			t.Errorf("%s: ApplyZones: %v", name, err)
		}
		defs = append(defs, *def)
	}
	loaded, err := LoadDir("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != len(defs) {
		t.Fatalf("LoadDir: %d zones, want %d", len(loaded), len(defs))
	}
	for i := range loaded {
		if want := path.Join("testdata/good", names[i]); loaded[i].File != want {
			t.Errorf("zone %d from %s, want %s", i, loaded[i].File, want)
		}
	}
	if err := handlespace.New(handlespace.Options{}).ApplyZones(loaded); err != nil {
		t.Errorf("ApplyZones of the set: %v", err)
	}
}

// TestTestdataGoodDetails checks what the good files say they show.
func TestTestdataGoodDetails(t *testing.T) {
	fsys := os.DirFS("testdata/good")
	m, err := Parse(fsys, "master.zone")
	if err != nil {
		t.Fatal(err)
	}
	if m.Origin != "master.example." {
		t.Errorf("origin %s", m.Origin)
	}
	got := strings.Join(records(m), "\n")
	for _, want := range []string{
		"Master.Example. 3600 IN SOA ns1.master.example. hostmaster.Master.Example. 2026010101 3600 600 604800 30",
		"Master.Example. 3600 IN NS ns2.Other.Example.",
		"Master.Example. 3600 IN MX 10 mail.Master.Example.",
		"ns1.Master.Example. 3600 IN AAAA 2001:db8::53",
		"mail.Master.Example. 600 IN A 192.0.2.25",
		`text.Master.Example. 3600 IN TXT "semicolon ; and (parens) in quotes" "escaped;semicolon"`,
		`text.Master.Example. 3600 IN TXT "one" "two"`,
		"short.Master.Example. 60 IN A 192.0.2.60",
		"deep.sub.master.example. 60 IN A 192.0.2.61",
		`w\.dot.sub.master.example. 60 IN TXT "escaped dot in a label"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no record %q in\n%s", want, got)
		}
	}
	sip := pool(t, m, "sip")
	if len(sip.Elements) != 3 || sip.Elements[2].Label.String() != "third" || sip.Spec.TTL != 0 || sip.Spec.Answers != 1 ||
		sip.Spec.AllDown != handlespace.AllDownAll || sip.Elements[0].Transport != handlespace.TransportUDP {
		t.Errorf("pool sip %+v %v", sip.Spec, deref(sip.Elements))
	}
	inc, err := Parse(fsys, "include.zone")
	if err != nil {
		t.Fatal(err)
	}
	got = strings.Join(records(inc), "\n")
	for _, want := range []string{"a.hosts.inc.example. 300 IN A 192.0.2.10", "after.inc.example. 300 IN A 192.0.2.99"} {
		if !strings.Contains(got, want) {
			t.Errorf("no record %q in\n%s", want, got)
		}
	}
	if web := pool(t, inc, "web"); len(web.Elements) != 3 || web.Spec.URI != "http://{name}:{port}/status?from={addr}" {
		t.Errorf("pool web %+v %v", web.Spec, deref(web.Elements))
	}
	if api := pool(t, inc, "api"); api.Spec.Probe.Kind != "tcp" || api.Spec.Probe.Fall != 3 || api.Line != 1 {
		t.Errorf("pool api %+v line %d", api.Spec, api.Line)
	}
}

// testdataFiles returns every file under testdata (for fuzz seeds).
func testdataFiles(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	err := fs.WalkDir(os.DirFS("testdata"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(p, "fuzz/") {
			return err
		}
		b, err := os.ReadFile("testdata/" + p)
		out[p] = b
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
