package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusCLIBinary: the same with the built binary against a poolnsd
// serve process.
func TestStatusCLIBinary(t *testing.T) {
	dir := daemonDir(t, statusZone)
	p := startDaemon(t, dir, "--http.token", testToken)
	_, rec := p.ready()
	api, _ := p.waitLog(0, "the HTTP line", msgIs("serving HTTP API"))
	regs := rec.Str("registrar")
	work := t.TempDir() // no poolnsd.yaml: the CLI takes the flags only
	testStatusCLI(t, "http://"+api.Str("addr"), func(args ...string) (string, string, int) {
		out, errOut, code := runPoolnsd(t, work, args...)
		fix := func(s string) string { return strings.ReplaceAll(s, regs, "xxxxxxxx") }
		return fix(out), fix(errOut), code
	})
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

// golden compares got with the golden file name of cmd/poolnsd's
// TestStatusCLI, which runs the same steps against a server in its own
// process and owns the files (go test ./cmd/poolnsd -run StatusCLI
// -update rewrites them): the binary must print what that test prints.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("..", "..", "cmd", "poolnsd", "testdata", name)
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", p, got, want)
	}
}

// testStatusCLI is the sequence of cmd/poolnsd's TestStatusCLI (its
// testStatusCLI, kept the same), run with the built binary.
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

// testToken is the API token of the status test (cmd/poolnsd's).
const testToken = "t0ken-for-tests"
