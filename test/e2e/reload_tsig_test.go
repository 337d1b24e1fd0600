package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/internal/proctest"
)

// tsigKeyFile writes a BIND key file for nsupdate -k with the key's own
// name (keyFile names every key pe-key.).
func tsigKeyFile(t *testing.T, dir, name, secret string) string {
	t.Helper()
	return writeFile(t, dir, strings.TrimSuffix(name, ".")+".key",
		fmt.Sprintf("key %q {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", name, secret))
}

// tsigYAML is the "tsig" list of the config file for keys name → secret,
// in the order given.
func tsigYAML(keys ...[2]string) string {
	var b strings.Builder
	b.WriteString("tsig:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  - name: %s\n    algorithm: hmac-sha256\n    secret: %q\n", k[0], k[1])
	}
	return b.String()
}

// TestSighupTSIGKeys: SIGHUP applies added, changed and removed TSIG keys
// to the running server, as the real nsupdate sees them, and logs the
// changes by name without a secret.
func TestSighupTSIGKeys(t *testing.T) {
	t.Parallel()
	proctest.LookTool(t, "nsupdate", "bind9-dnsutils")
	dir := daemonDir(t, goodZone)
	cfgFile := filepath.Join(dir, "poolnsd.yaml")
	base, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	peSecret2 := base64.StdEncoding.EncodeToString([]byte("the second pe-key secret, 32 B.."))
	newSecret := base64.StdEncoding.EncodeToString([]byte("new-key's secret, 32 bytes long."))
	writeAtomic(t, dir, "poolnsd.yaml", string(base)+tsigYAML([2]string{"pe-key.", regSecret}))
	peKey := tsigKeyFile(t, dir, "pe-key.", regSecret)
	peKey2 := writeFile(t, dir, "pe-key-2.key", fmt.Sprintf("key \"pe-key.\" {\n\talgorithm hmac-sha256;\n\tsecret %q;\n};\n", peSecret2))
	newKey := tsigKeyFile(t, dir, "new-key.", newSecret)

	p := startDaemon(t, dir)
	addr, _ := p.ready()
	update := func(key, label string) (string, error) {
		return nsupdate(t, addr, key,
			fmt.Sprintf("update add %s.dyn.pool.example. 60 SRV 0 1 8080 %s.dyn.pool.example.", label, label),
			fmt.Sprintf("update add %s.dyn.pool.example. 60 A 192.0.2.77", label))
	}
	mustFail := func(what, key, label, want string) {
		t.Helper()
		if out, err := update(key, label); err == nil || !strings.Contains(out, want) {
			t.Errorf("%s: nsupdate %v, output lacks %q:\n%s", what, err, want, out)
		}
	}
	mustWork := func(what, key, label string) {
		t.Helper()
		from := p.cursor()
		if out, err := update(key, label); err != nil {
			t.Fatalf("%s: nsupdate: %v\n%s", what, err, out)
		}
		p.waitLog(from, what, registeredLine(label, true))
	}
	reloaded := func(what string) logRec {
		t.Helper()
		return p.hup(what, msgIs("TSIG keys reloaded"))
	}

	mustWork("pe-key before the reloads", peKey, "pe1")
	mustFail("new-key before it is configured", newKey, "n1", "NOTAUTH(BADKEY)")

	// Added.
	writeAtomic(t, dir, "poolnsd.yaml", string(base)+tsigYAML([2]string{"pe-key.", regSecret}, [2]string{"New-Key", newSecret}))
	r := reloaded("the key added")
	if got := fmt.Sprint(r["added"], r["removed"], r["changed"]); got != "[new-key.] [] []" {
		t.Errorf("added, removed, changed: %s, want [new-key.] [] []", got)
	}
	mustWork("new-key once added", newKey, "n2")

	// pe-key's secret changed: the old one is refused, the new one works.
	writeAtomic(t, dir, "poolnsd.yaml", string(base)+tsigYAML([2]string{"pe-key.", peSecret2}, [2]string{"new-key.", newSecret}))
	r = reloaded("the secret changed")
	if got := fmt.Sprint(r["added"], r["removed"], r["changed"]); got != "[] [] [pe-key. (secret)]" {
		t.Errorf("added, removed, changed: %s, want [] [] [pe-key. (secret)]", got)
	}
	mustFail("pe-key's old secret", peKey, "pe2", "NOTAUTH(BADSIG)")
	mustWork("pe-key's new secret", peKey2, "pe3")

	// Removed.
	writeAtomic(t, dir, "poolnsd.yaml", string(base)+tsigYAML([2]string{"pe-key.", peSecret2}))
	r = reloaded("the key removed")
	if got := fmt.Sprint(r["added"], r["removed"], r["changed"]); got != "[] [new-key.] []" {
		t.Errorf("added, removed, changed: %s, want [] [new-key.] []", got)
	}
	mustFail("new-key once removed", newKey, "n3", "NOTAUTH(BADKEY)")
	mustWork("pe-key after the removal", peKey2, "pe4")

	// The keys are a live setting: no restart warning for them, and no
	// secret in the log.
	log := p.Log()
	for _, s := range []string{regSecret, peSecret2, newSecret} {
		if strings.Contains(log, s) {
			t.Errorf("the log shows a secret")
		}
	}
	if strings.Contains(log, "only at a restart") {
		t.Errorf("a restart warning for a live change:\n%s", log)
	}
}
