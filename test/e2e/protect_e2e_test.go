package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCookieSecretKept: without dns.cookie_secret the first start makes a
// secret in data/cookie_secret (mode 0600) and the next start reads the
// same one; a configured secret is used instead; a damaged file stops the
// start with its name.
func TestCookieSecretKept(t *testing.T) {
	dir := daemonDir(t, goodZone)
	file := filepath.Join(dir, "data", "cookie_secret")
	// run starts and stops poolnsd, and returns its protections line;
	// auto says the environment sets dns.nsid to auto.
	run := func(auto bool, env ...string) logRec {
		t.Helper()
		p := startDaemonEnv(t, dir, env)
		_, ready := p.ready()
		line, _ := p.waitLog(0, "the protections line", msgIs("DNS protections"))
		want := "off"
		if auto {
			want = strconv.Quote(ready.Str("registrar"))
		}
		if line.Str("nsid") != want {
			t.Errorf("nsid %s, want %s", line.Str("nsid"), want)
		}
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.waitExit(20 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		return line
	}
	if got := run(false).Str("cookie_secret"); got != "generated into data/cookie_secret" {
		t.Errorf("first start: cookie_secret %q, want generated into data/cookie_secret", got)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", file, fi.Mode().Perm())
	}
	first, _ := os.ReadFile(file)
	if !regexp.MustCompile(`^[0-9a-f]{32}\n$`).Match(first) {
		t.Fatalf("%s holds %q, want 32 hex digits", file, first)
	}
	if got := run(true, "POOLNSD_DNS_NSID=auto").Str("cookie_secret"); got != "data/cookie_secret" {
		t.Errorf("second start: cookie_secret %q, want the file read (data/cookie_secret)", got)
	}
	if again, _ := os.ReadFile(file); string(again) != string(first) {
		t.Errorf("the secret changed across a restart: %q, then %q", first, again)
	}
	if got := run(false, "POOLNSD_DNS_COOKIE_SECRET=e5e973e5a6b2a43f48e7dc849e37bfcf").Str("cookie_secret"); got != "dns.cookie_secret" {
		t.Errorf("configured: cookie_secret %q, want dns.cookie_secret", got)
	}

	if err := os.WriteFile(file, []byte("zz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, dir)
	if code := p.waitExit(20 * time.Second); code != exitRuntime {
		t.Fatalf("damaged secret file: exit code %d, want %d", code, exitRuntime)
	}
	r, _ := p.waitLog(0, "the error line", msgIs("cannot set up the DNS protections"))
	if !strings.Contains(r.Str("err"), "data/cookie_secret: secret has 2 hex digits") {
		t.Errorf("error %q does not name the file and what is wrong", r.Str("err"))
	}
}
