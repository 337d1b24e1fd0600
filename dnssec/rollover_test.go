package dnssec

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const zone = "pool.example."

// zoneAt loads dir at now and returns zone's keys.
func zoneAt(t *testing.T, dir string, now time.Time) *ZoneKeys {
	t.Helper()
	ks, err := Load(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	return ks.Zone(zone)
}

// TestNewKeyActive: a zone's first key and a key of a new algorithm sign
// at once; a further key of an algorithm in use is published only.
func TestNewKeyActive(t *testing.T) {
	if !NewKeyActive(nil, dns.ECDSAP256SHA256) {
		t.Error("the zone's first key is not active at once")
	}
	dir := t.TempDir()
	writeKey(t, dir, zone, dns.ECDSAP256SHA256, Timing{Publish: t0.Add(-time.Hour), Activate: t0.Add(-time.Hour)})
	zk := zoneAt(t, dir, t0)
	if NewKeyActive(zk, dns.ECDSAP256SHA256) {
		t.Error("a second key of the signing algorithm is active at once: want published only (a key rollover)")
	}
	if !NewKeyActive(zk, dns.ED25519) {
		t.Error("a key of a new algorithm is published only: want active (an algorithm rollover signs with both)")
	}
	// The same algorithm published only (not signing) is no signer of it.
	writeKey(t, dir, zone, dns.ED25519, Timing{Publish: t0.Add(-time.Hour), Activate: t0.Add(time.Hour)})
	writeKey(t, dir, zone, dns.ED25519, Timing{Publish: t0.Add(-time.Hour), Activate: t0.Add(-time.Minute)})
	if zk = zoneAt(t, dir, t0); NewKeyActive(zk, dns.ED25519) {
		t.Error("ED25519 signs, yet a new ED25519 key is active at once")
	}
}

// TestSignableFrom: a key may sign dnskeyTTL after its publication when
// resolvers may hold the zone's DNSKEY RRset without it, and at once when
// it is the zone's only key or its files have no timing.
func TestSignableFrom(t *testing.T) {
	const ttl = time.Hour
	pub := t0.Add(-10 * time.Minute)
	act := Timing{Publish: pub, Activate: pub} // active since pub
	for _, c := range []struct {
		name   string
		other  *Timing // another key of the zone, nil: none
		timing Timing  // the key's own
		want   time.Time
	}{
		{"the only key", nil, act, time.Time{}},
		{"no timing at all", &Timing{}, Timing{}, time.Time{}},
		{"another key active", &Timing{}, Timing{Publish: pub}, pub.Add(ttl)},
		{"another key retired", &Timing{Activate: t0.Add(-48 * time.Hour), Inactive: t0.Add(-time.Hour)}, act, pub.Add(ttl)},
		{"another key removed", &Timing{Activate: t0.Add(-48 * time.Hour), Delete: t0.Add(-time.Hour)}, act, time.Time{}},
		{"active without Publish: published when it was activated", &Timing{}, Timing{Activate: t0.Add(-3 * time.Hour)}, t0.Add(-2 * time.Hour)},
		{"to be activated without Publish: the publication given", &Timing{}, Timing{Activate: t0.Add(3 * time.Hour)}, pub.Add(ttl)},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.other != nil {
				writeKey(t, dir, zone, dns.ECDSAP256SHA256, *c.other)
			}
			k := writeKey(t, dir, zone, dns.ECDSAP256SHA256, c.timing)
			zk := zoneAt(t, dir, t0)
			var key *Key
			for _, x := range zk.Keys {
				if x.File == k.File {
					key = x
				}
			}
			if key == nil {
				t.Fatalf("key %d not loaded", k.Tag)
			}
			if got := SignableFrom(zk, key, pub, t0, ttl); !got.Equal(c.want) {
				t.Errorf("SignableFrom = %v, want %v", got, c.want)
			}
		})
	}
}

// TestActivated: active from when, no end, published by then.
func TestActivated(t *testing.T) {
	when := t0.Add(time.Hour)
	got := Activated(Timing{Created: t0, Publish: t0, Inactive: t0.Add(time.Minute), Delete: t0.Add(2 * time.Minute)}, when)
	if want := (Timing{Created: t0, Publish: t0, Activate: when}); got != want {
		t.Errorf("published before: %+v, want %+v", got, want)
	}
	got = Activated(Timing{Publish: when.Add(time.Hour)}, when)
	if want := (Timing{Publish: when, Activate: when}); got != want {
		t.Errorf("published after: %+v, want %+v", got, want)
	}
	if got = Activated(Timing{}, when); got.Publish != when {
		t.Errorf("never published: Publish %v, want %v", got.Publish, when)
	}
}

// TestAddKey: a key the directory loads with stays; one that would make
// the directory fail to load is removed again, both its files, with the
// reason.
func TestAddKey(t *testing.T) {
	dir := t.TempDir()
	writeKey(t, dir, zone, dns.ECDSAP256SHA256, Timing{Publish: t0.Add(-time.Hour), Activate: t0.Add(-time.Hour)})

	good, err := Generate(zone, dns.ECDSAP256SHA256, FlagsCSK, Timing{Created: t0, Publish: t0})
	if err != nil {
		t.Fatal(err)
	}
	if err := AddKey(dir, good, t0); err != nil {
		t.Fatalf("a published key of the signing algorithm: %v", err)
	}
	if zk := zoneAt(t, dir, t0); len(zk.Keys) != 2 {
		t.Errorf("%d keys after AddKey, want 2", len(zk.Keys))
	}

	// ED25519 published but never active: the zone has no active key of
	// an algorithm in its DNSKEY RRset (RFC 4035 §2.2).
	bad, err := Generate(zone, dns.ED25519, FlagsCSK, Timing{Created: t0, Publish: t0})
	if err != nil {
		t.Fatal(err)
	}
	err = AddKey(dir, bad, t0)
	if err == nil {
		t.Fatal("a key the directory cannot load with was added")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "dnssec: ") || !strings.Contains(msg, "removed again") || !strings.Contains(msg, "ED25519") {
		t.Errorf("error %q: want the removal and the reason (ED25519 not active)", msg)
	}
	for _, f := range []string{bad.File, bad.PrivateFile()} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", f, err)
		}
	}
	if zk := zoneAt(t, dir, t0); len(zk.Keys) != 2 {
		t.Errorf("%d keys after the refused AddKey, want 2", len(zk.Keys))
	}
}

// TestRetime: a timing change that leaves the zone loadable at every time
// given is written; one that does not (the only key retired) is undone in
// the files and in the Key.
func TestRetime(t *testing.T) {
	dir := t.TempDir()
	old := Timing{Created: t0.Add(-time.Hour), Publish: t0.Add(-time.Hour), Activate: t0.Add(-time.Hour)}
	k := writeKey(t, dir, zone, dns.ECDSAP256SHA256, old)

	retired := old
	retired.Inactive = t0.Add(time.Hour)
	err := Retime(dir, k, retired, t0, t0.Add(2*time.Hour))
	if err == nil || !strings.Contains(err.Error(), "none is active") {
		t.Fatalf("retiring the only key: %v, want an error saying none is active", err)
	}
	if k.Timing != old {
		t.Errorf("the Key's timing is %+v after the refusal, want %+v", k.Timing, old)
	}
	onDisk, err := ReadKey(k.File)
	if err != nil {
		t.Fatal(err)
	}
	if onDisk.Timing != old {
		t.Errorf("the files' timing is %+v after the refusal, want %+v", onDisk.Timing, old)
	}

	// With a second active key the first may retire.
	writeKey(t, dir, zone, dns.ECDSAP256SHA256, old)
	if err := Retime(dir, k, retired, t0, t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("retiring one of two active keys: %v", err)
	}
	if onDisk, err = ReadKey(k.File); err != nil {
		t.Fatal(err)
	}
	if onDisk.Timing != retired {
		t.Errorf("the files' timing is %+v, want %+v", onDisk.Timing, retired)
	}
}
