package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/config"
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/zones"
)

// otherZone is a second zone, without pools.
const otherZone = `$ORIGIN other.example.
@      300 SOA ns1 hostmaster 1 3600 600 86400 5
@      300 NS  ns1
ns1    300 A   192.0.2.54
`

// wantCheckErrors is what check must print for paths: the loader's errors
// (or the handlespace's), one per line.
func wantCheckErrors(t *testing.T, dir string, paths ...string) string {
	t.Helper()
	abs := make([]string, len(paths))
	for i, p := range paths {
		abs[i] = filepath.Join(dir, p)
	}
	defs, err := zones.LoadPaths(abs...)
	if err == nil {
		err = handlespace.New(handlespace.Options{}).ApplyZones(defs)
	}
	if err == nil {
		t.Fatalf("%q load without errors", paths)
	}
	// check names the files as given on its command line.
	return strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "") + "\n"
}

func TestUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		args       []string
		code       int
		stdoutHas  string
		stderrHas  string
		stderrLine string
	}{
		{args: nil, code: exitUsage, stderrHas: "Usage:"},
		{args: []string{"frobnicate"}, code: exitUsage,
			stderrLine: `poolnsd: unknown command "frobnicate"; want serve, check, config, status, drain, undrain, dnssec, demo, version or help`},
		{args: []string{"help"}, code: exitOK, stdoutHas: "--dns.udp_size"},
		{args: []string{"serve", "--help"}, code: exitOK, stdoutHas: "Exit status: 0 success; 1 check found errors"},
		{args: []string{"serve", "--no-such-flag"}, code: exitUsage,
			stderrLine: "poolnsd serve: unknown flag: --no-such-flag; see poolnsd help"},
		{args: []string{"serve", "extra"}, code: exitUsage,
			stderrLine: `poolnsd serve: unexpected argument "extra"; see poolnsd help`},
		{args: []string{"serve", "--dns.udp_size=100"}, code: exitUsage,
			stderrLine: "dns.udp_size: 100 is below 512"},
		{args: []string{"check", "--log.level=loud"}, code: exitUsage,
			stderrLine: `log.level: unknown level "loud", want debug, info, warn or error`},
		{args: []string{"version"}, code: exitOK, stdoutHas: "poolnsd "},
	} {
		stdout, stderr, code := runPoolnsd(t, dir, c.args...)
		if code != c.code {
			t.Errorf("poolnsd %q: exit %d, want %d\nstderr: %s", c.args, code, c.code, stderr)
		}
		if !strings.Contains(stdout, c.stdoutHas) {
			t.Errorf("poolnsd %q: stdout lacks %q:\n%s", c.args, c.stdoutHas, stdout)
		}
		if !strings.Contains(stderr, c.stderrHas) {
			t.Errorf("poolnsd %q: stderr lacks %q:\n%s", c.args, c.stderrHas, stderr)
		}
		if c.stderrLine != "" && stderr != c.stderrLine+"\n" {
			t.Errorf("poolnsd %q: stderr\n got %q\nwant %q", c.args, stderr, c.stderrLine+"\n")
		}
	}
}

func TestConfigCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var want strings.Builder
	if err := config.WriteYAML(&want); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runPoolnsd(t, dir, "config")
	if code != exitOK || stdout != want.String() || stderr != "" {
		t.Errorf("poolnsd config: exit %d, stderr %q, stdout\n%s", code, stderr, stdout)
	}
	want.Reset()
	if err := config.WriteMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	stdout, _, code = runPoolnsd(t, dir, "config", "--markdown")
	if code != exitOK || stdout != want.String() {
		t.Errorf("poolnsd config --markdown: exit %d, stdout\n%s", code, stdout)
	}
	// What config prints is a config file that serve and check accept.
	writeFile(t, dir, "zones/pool.example.zone", goodZone)
	stdout, _, _ = runPoolnsd(t, dir, "config")
	writeFile(t, dir, "poolnsd.yaml", stdout)
	if stdout, stderr, code := runPoolnsd(t, dir, "check"); code != exitOK {
		t.Errorf("check with the printed config: exit %d\n%s%s", code, stdout, stderr)
	}
	writeFile(t, dir, "poolnsd.yaml", "dns:\n  lisen: [\"127.0.0.1:53\"]\n")
	_, stderr, code = runPoolnsd(t, dir, "check")
	if want := `poolnsd.yaml: unknown key "dns.lisen"; did you mean "dns.listen"?` + "\n"; code != exitUsage || stderr != want {
		t.Errorf("check with a bad config: exit %d, stderr\n got %q\nwant %q", code, stderr, want)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, dir, "zones/pool.example.zone", goodZone)
	writeFile(t, dir, "zones/other.example.zone", otherZone)
	writeFile(t, dir, "bad/pool.example.zone", badZone)
	writeFile(t, dir, "dup/a.zone", goodZone)
	writeFile(t, dir, "dup/b.zone", goodZone)

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		errs   []string // the paths whose errors check prints; nil for none
	}{
		{name: "one file", args: []string{"zones/pool.example.zone"}, stdout: "ok: 1 zones, 1 pools, 2 elements\n"},
		{name: "a directory", args: []string{"zones"}, stdout: "ok: 2 zones, 1 pools, 2 elements\n"},
		{name: "the configured directory", args: nil, stdout: "ok: 2 zones, 1 pools, 2 elements\n"},
		{name: "--zones", args: []string{"--zones", "bad"}, code: exitCheck, errs: []string{"bad"}},
		{name: "bad file", args: []string{"bad/pool.example.zone"}, code: exitCheck, errs: []string{"bad/pool.example.zone"}},
		{name: "good and bad", args: []string{"zones/pool.example.zone", "bad/pool.example.zone"}, code: exitCheck,
			errs: []string{"zones/pool.example.zone", "bad/pool.example.zone"}},
		{name: "zone defined twice", args: []string{"dup"}, code: exitCheck, errs: []string{"dup"}},
		{name: "missing file", args: []string{"nonesuch.zone"}, code: exitCheck, errs: []string{"nonesuch.zone"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runPoolnsd(t, dir, append([]string{"check"}, c.args...)...)
			want := ""
			if c.errs != nil {
				want = wantCheckErrors(t, dir, c.errs...)
			}
			if code != c.code || stdout != c.stdout || stderr != want {
				t.Errorf("poolnsd check %q: exit %d, want %d\nstdout\n got %q\nwant %q\nstderr\n got %q\nwant %q",
					c.args, code, c.code, stdout, c.stdout, stderr, want)
			}
		})
	}

	// The error lines name file:line.
	_, stderr, _ := runPoolnsd(t, dir, "check", "bad/pool.example.zone")
	if !strings.HasPrefix(stderr, "bad/pool.example.zone:7:") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("check of a file with one error on line 7 printed\n%s", stderr)
	}
}
