package e2e

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

// The exit codes of poolnsd (its command documentation and poolnsd help).
const (
	exitOK       = 0 // success
	exitCheck    = 1 // check found errors in zone files
	exitDegraded = 1 // status found a pool that serves none of its elements
	exitUsage    = 2 // a bad command line or configuration
	exitRuntime  = 3 // a failure at run time
	exitNotFound = 4 // drain or undrain named an unknown pool or element
	exitDenied   = 5 // the server refused the token
)

// Timings of poolnsd serve that the tests wait on (cmd/poolnsd's
// constants of the same names).
const (
	// shutdownGrace is how long queries in flight may take at shutdown.
	shutdownGrace = 5 * time.Second
	// reloadDebounce is how long the zones directory must be quiet after
	// a change before poolnsd reloads the zones.
	reloadDebounce = 200 * time.Millisecond
)

// goodZone is a zone file with one pool of two elements.
const goodZone = `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=rr ttl=5 answers=3
web    PE 10.0.0.1:8080
web    PE 10.0.0.2:8080
`

// badZone has an unknown policy on line 7.
const badZone = `$ORIGIN pool.example.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 5
@      NS  ns1
ns1    A   192.0.2.53

$POOL web policy=lru ttl=5 answers=3
web    PE 10.0.0.1:8080
`

var tagRe = regexp.MustCompile(`key (\d+) \(`)

// keygen runs "poolnsd dnssec keygen args..." with data as the data
// directory and returns the new key's tag.
func keygen(t *testing.T, data string, args ...string) uint16 {
	t.Helper()
	full := append([]string{"dnssec", "keygen", "--data", data}, args...)
	out, errs, code := runPoolnsd(t, t.TempDir(), full...)
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
