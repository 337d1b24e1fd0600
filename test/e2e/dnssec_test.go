package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/poolnsd/poolnsd/dnssec"
)

// TestServeDNSSECKeys: serve refuses to start with a bad key, names the
// file, and on SIGHUP keeps the last good keys.
func TestServeDNSSECKeys(t *testing.T) {
	t.Parallel()
	dir := daemonDir(t, goodZone)
	data := filepath.Join(dir, "data")
	tag := keygen(t, data, "pool.example")
	p := startDaemon(t, dir)
	signed := func(r logRec) bool { return r.Str("msg") == "zone signed" && r.Str("zone") == "pool.example." }
	r, _ := p.waitLog(0, "zone signed at start", signed)
	if r.Str("signing") != strconv.Itoa(int(tag)) || r.Str("trigger") != "start" {
		t.Errorf("start: %v", r)
	}
	p.ready()

	// A broken key file: the reload is refused, the last keys sign on.
	bad := filepath.Join(data, "keys", dnssec.BaseName("pool.example.", 13, tag)+".private")
	good, _ := os.ReadFile(bad)
	os.WriteFile(bad, []byte("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: AAAA\n"), 0o600)
	r = p.hup("the refused reload", func(r logRec) bool { return r.Str("level") == "ERROR" })
	if r.Str("msg") != "DNSSEC keys not reloaded; signing with the last good ones" || !strings.Contains(r.Str("err"), filepath.Join("data", "keys", filepath.Base(bad))+": PrivateKey") {
		t.Errorf("refused reload: %v", r)
	}

	// Fixed: the reload takes it.
	os.WriteFile(bad, good, 0o600)
	r = p.hup("the reload", signed)
	if r.Str("trigger") != "SIGHUP" {
		t.Errorf("reload: %v", r)
	}

	// A registrar does not start with a bad key.
	os.WriteFile(bad, []byte("garbage\n"), 0o600)
	dir2 := daemonDir(t, goodZone)
	os.MkdirAll(filepath.Join(dir2, "data"), 0o700)
	os.Rename(filepath.Join(data, "keys"), filepath.Join(dir2, "data", "keys"))
	q := startDaemon(t, dir2)
	r, _ = q.waitLog(0, "the key error", func(r logRec) bool { return r.Str("level") == "ERROR" })
	if r.Str("msg") != "cannot load the DNSSEC keys" || !strings.Contains(r.Str("err"), filepath.Join("data", "keys", dnssec.BaseName("pool.example.", 13, tag)+".private")) {
		t.Errorf("start with a bad key: %v", r)
	}
	if code := q.waitExit(waitLimit); code != exitRuntime {
		t.Errorf("exit %d, want %d", code, exitRuntime)
	}
}
