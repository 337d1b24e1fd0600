package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/httpapi"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI tests (testdata/*.golden)")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to write it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s--- want\n%s", p, got, want)
	}
}

// statusZone has a round-robin pool of three and a weighted pool of two.
const statusZone = `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=rr ttl=5 answers=2 service=_http._tcp
web    PE 10.0.0.1:8080 name=web1 site=fra
web    PE 10.0.0.2:8080 name=web2 site=ams load=25%
web    PE [2001:db8::3]:8080 name=web3 weight=5

$POOL api policy=wrr ttl=30
api    PE 10.0.1.1,10.0.1.2:443 name=api1 weight=3 prio=1
api    PE 10.0.1.3:443 name=api2 weight=1
`

// cliRun runs the CLI in the test's process, with the registrar's ID (8
// hex digits, different in each run) in the output replaced by xxxxxxxx.
func cliRun(t *testing.T, registrar string, args ...string) (string, string, int) {
	t.Helper()
	var o, e bytes.Buffer
	code := run(args, &o, &e)
	fix := func(s string) string { return strings.ReplaceAll(s, registrar, "xxxxxxxx") }
	return fix(o.String()), fix(e.String()), code
}

// TestStatusCLI: poolnsd status, drain and undrain against a server run in
// the test, with golden output and the documented exit codes.
func TestStatusCLI(t *testing.T) {
	p := startInProc(t, t.TempDir(), statusZone, nil)
	regs := handlespace.IDString(p.d.store.RegistrarID())
	testStatusCLI(t, p.base, func(args ...string) (string, string, int) { return cliRun(t, regs, args...) })
}

func testStatusCLI(t *testing.T, base string, cli func(args ...string) (string, string, int)) {
	srv := []string{"--server", base}
	tok := []string{"--token", testToken}
	step := func(golden_ string, wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := cli(args...)
		if code != wantCode {
			t.Fatalf("poolnsd %q: exit %d, want %d; stderr %s", args, code, wantCode, errOut)
		}
		if golden_ != "" {
			golden(t, golden_, out+errOut)
		}
		return out + errOut
	}
	step("status.golden", exitOK, append([]string{"status"}, srv...)...)
	step("drain.golden", exitOK, append(append([]string{"drain"}, srv...), append(tok, "web", "web2")...)...)
	step("", exitOK, append(append([]string{"drain", "--force"}, srv...), append(tok, "web.pool.example.", "web1")...)...)
	step("status-drained.golden", exitOK, append([]string{"status"}, srv...)...)
	step("", exitOK, append(append([]string{"drain"}, srv...), append(tok, "web", "web3")...)...)
	// No element of web is served: exit 1.
	step("status-down.golden", exitDegraded, append([]string{"status"}, srv...)...)
	step("status-problems.golden", exitDegraded, append([]string{"status", "--problems"}, srv...)...)
	for _, e := range []string{"web1", "web2", "web3"} {
		step("", exitOK, append(append([]string{"undrain"}, srv...), append(tok, "web", e)...)...)
	}
	if out := step("", exitOK, append([]string{"status"}, srv...)...); !strings.Contains(out, "pool.example.  rr") && !strings.Contains(out, "3/3") {
		t.Errorf("after undrain:\n%s", out)
	}

	// Errors, each with its exit code and a line that says what is wrong.
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := closed.Addr().String()
	closed.Close()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{append(append([]string{"drain"}, srv...), append(tok, "web", "nope")...), exitNotFound, `poolnsd drain: pool web.pool.example. has no element "nope" (HTTP 404)`},
		{append(append([]string{"drain"}, srv...), append(tok, "nosuch", "web1")...), exitNotFound, `poolnsd drain: no such pool "nosuch" (HTTP 404)`},
		{append(append([]string{"drain"}, srv...), "--token", "wrong", "web", "web1"), exitDenied, "poolnsd drain: wrong bearer token (HTTP 401)"},
		{append([]string{"undrain", "--token", ""}, append(srv, "web", "web1")...), exitDenied, "poolnsd undrain: no token: give --token"},
		{append([]string{"drain"}, append(srv, "web")...), exitUsage, "poolnsd drain: want POOL ELEMENT"},
		{[]string{"status", "--server", dead}, exitRuntime, "poolnsd status: cannot reach http://" + dead + ": "},
		{[]string{"status", "--server", "ftp://x"}, exitUsage, `poolnsd status: --server: "ftp://x": want an http:// or https:// URL`},
		{[]string{"status", "--server", base, "extra"}, exitUsage, `poolnsd status: unexpected argument "extra"`},
		{[]string{"status", "--bogus"}, exitUsage, "poolnsd status: unknown flag: --bogus"},
	} {
		_, errOut, code := cli(c.args...)
		if code != c.code || !strings.HasPrefix(errOut, c.msg) {
			t.Errorf("poolnsd %q: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.msg)
		}
	}
	// A server that is not poolnsd: said so.
	if _, errOut, code := cli("status", "--server", base+"/ui"); code != exitRuntime || !strings.Contains(errOut, "not JSON: is it a poolnsd HTTP API?") {
		t.Errorf("status against a non-API URL: exit %d, %q", code, errOut)
	}
}

// TestServerURL: the forms --server and http.listen take.
func TestServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8053":           "http://127.0.0.1:8053",
		":8053":                    "http://127.0.0.1:8053",
		"0.0.0.0:8053":             "http://127.0.0.1:8053",
		"[::]:8053":                "http://[::1]:8053",
		"[2001:db8::1]:80":         "http://[2001:db8::1]:80",
		"http://ns.example:8053/":  "http://ns.example:8053",
		"https://ns.example/pool/": "https://ns.example/pool",
	} {
		u, err := serverURL(in)
		if err != nil || u.String() != want {
			t.Errorf("serverURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"localhost", "ftp://x", "http://"} {
		if u, err := serverURL(bad); err == nil {
			t.Errorf("serverURL(%q) = %v, want an error", bad, u)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"web2", "web10", -1}, {"web10", "web2", 1}, {"web2", "web2", 0}, {"a", "b", -1},
		{"web02", "web2", 0}, {"web", "web1", -1}, {"b1x", "b1y", -1}, {"10", "9", 1},
	} {
		if got := naturalCompare(c.a, c.b); got != c.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestWriteStatus renders what a probing server reports (probe results,
// RTTs, leases, reports, a pool failing open) with a fixed clock.
func TestWriteStatus(t *testing.T) {
	const reply = `{"time":"2026-01-02T03:04:05Z","registrar":"0000abcd","totals":{"elements":4,"served":2,"up":2,"down":1,"unknown":1,"drained":0,"forced_down":0,"reported":1},
	"pools":[
	 {"name":"api.pool.example.","policy":"lu","ttl":5,"answers":3,"alldown":"all","probe":{"kind":"tcp","target":"","interval_ms":2000,"timeout_ms":500,"rise":2,"fall":2},"fail_open":true,
	  "counts":{"elements":1,"served":1,"up":0,"down":1,"unknown":0,"drained":0,"forced_down":0,"reported":0},
	  "elements":[{"id":"00000001","label":"a1","name":"a1.api.pool.example.","addresses":["192.0.2.1"],"port":443,"weight":1,"priority":0,"load":0.5,"site":"",
	   "health":"down","admin":"auto","reported":false,"served":true,"rtt_ms":null,"home":"0000abcd","static":true,"lease_left_s":null,
	   "last_probe":{"at":"2026-01-02T03:04:04.5Z","ok":false,"error":"connect: connection refused","rtt_ms":0.2}}]},
	 {"name":"web.pool.example.","policy":"rr","ttl":5,"answers":3,"alldown":"none","probe":{"kind":"http","target":"/healthz","interval_ms":1000,"timeout_ms":300,"rise":2,"fall":2},"fail_open":false,
	  "counts":{"elements":3,"served":1,"up":2,"down":0,"unknown":1,"drained":0,"forced_down":0,"reported":1},
	  "elements":[
	   {"id":"00000010","label":"web10","name":"web10.web.pool.example.","addresses":["10.0.0.10"],"port":8080,"weight":1,"priority":0,"load":0,"site":"",
	    "health":"unknown","admin":"auto","reported":false,"served":false,"rtt_ms":null,"home":"00001234","static":false,"lease_left_s":59.5,"last_probe":null},
	   {"id":"00000002","label":"web2","name":"web2.web.pool.example.","addresses":["10.0.0.2"],"port":8080,"weight":1,"priority":0,"load":0.125,"site":"fra",
	    "health":"up","admin":"auto","reported":true,"served":false,"rtt_ms":1.234,"home":"0000abcd","static":true,"lease_left_s":null,
	    "last_probe":{"at":"2026-01-02T03:04:03Z","ok":true,"error":"","rtt_ms":1.3}},
	   {"id":"00000003","label":"web3","name":"web3.web.pool.example.","addresses":["2001:db8::3","10.0.0.3"],"port":8080,"weight":2,"priority":1,"load":0,"site":"",
	    "health":"up","admin":"auto","reported":false,"served":true,"rtt_ms":0.05,"home":"0000abcd","static":true,"lease_left_s":null,
	    "last_probe":{"at":"2026-01-02T03:04:05Z","ok":true,"error":"","rtt_ms":0.05}}]}]}`
	var st httpapi.StatusJSON
	if err := json.Unmarshal([]byte(reply), &st); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeStatus(&b, &st, false)
	golden(t, "status-render.golden", b.String())
}

// TestWriteStatusDisputed: a disputed element is marked, and what each
// vantage point saw is written under its pool.
func TestWriteStatusDisputed(t *testing.T) {
	const reply = `{"time":"2026-01-02T03:04:05Z","registrar":"0000abcd","totals":{"elements":2,"served":2,"up":1,"down":1,"unknown":0,"drained":0,"forced_down":0,"reported":0,"disputed":1},
	"pools":[
	 {"name":"web.pool.example.","policy":"rr","ttl":5,"answers":3,"alldown":"none","probe":{"kind":"tcp","target":"","interval_ms":1000,"timeout_ms":300,"rise":2,"fall":2},"fail_open":false,
	  "counts":{"elements":2,"served":2,"up":1,"down":1,"unknown":0,"drained":0,"forced_down":0,"reported":0,"disputed":1},
	  "elements":[
	   {"id":"00000001","label":"web1","name":"web1.web.pool.example.","addresses":["10.0.0.1"],"port":80,"weight":1,"priority":0,"load":0,"site":"",
	    "health":"up","admin":"auto","reported":false,"served":true,"rtt_ms":null,"home":"0000abcd","static":true,"lease_left_s":null,"last_probe":null},
	   {"id":"00000002","label":"web2","name":"web2.web.pool.example.","addresses":["10.0.0.2"],"port":80,"weight":1,"priority":0,"load":0,"site":"",
	    "health":"down","admin":"auto","reported":false,"served":true,"rtt_ms":null,"home":"00001234","static":true,"lease_left_s":null,"last_probe":null,
	    "disputed":true,"last":true,"vantage":[{"registrar":"0000abcd","health":"down"},{"registrar":"00001234","health":"down"},{"registrar":"00005678","health":"up"}]}]}]}`
	var st httpapi.StatusJSON
	if err := json.Unmarshal([]byte(reply), &st); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeStatus(&b, &st, true)
	golden(t, "status-disputed.golden", b.String())
}
