package dnssec

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// The rules of a key's life in a keys directory (RFC 6781 §4.1, RFC 7583):
// which state a new key starts in, when a published key may sign, and the
// changes of a key's files that leave the directory loadable. poolnsd
// dnssec's key commands print what these decide.

// NewKeyActive reports whether a new key of algorithm alg for zone zk
// (nil: the zone has no keys yet) is active at once when its state is
// not asked for: the zone's first signing key, or one of an algorithm no
// signer of the zone has (an algorithm rollover signs with both at once).
// Otherwise it is published only, the first step of a key rollover.
func NewKeyActive(zk *ZoneKeys, alg uint8) bool {
	if zk == nil {
		return true
	}
	for _, k := range zk.dataSigners {
		if k.Algorithm == alg {
			return false
		}
	}
	return true
}

// SignableFrom returns when key k of zone zk, published from publish, may
// sign answers at the earliest: dnskeyTTL after its publication, once
// every resolver's cached DNSKEY RRset holds it (RFC 7583 §3.3.1's
// propagation delay plus the DNSKEY TTL, with no delay of propagation
// between registrars that share the files). The zero time, at once, when
// the zone has no other key that resolvers may have cached, or when k's
// files give no timing at all (active since it was made). A key whose
// files give no Publish time but an Activate time not after now is
// published since that Activate time.
func SignableFrom(zk *ZoneKeys, k *Key, publish, now time.Time, dnskeyTTL time.Duration) time.Time {
	old := k.Timing
	if old.Publish.IsZero() && old.Activate.IsZero() && old.Inactive.IsZero() && old.Delete.IsZero() {
		return time.Time{}
	}
	if old.Publish.IsZero() && !old.Activate.IsZero() && !old.Activate.After(now) {
		publish = old.Activate
	}
	others := false
	for j, x := range zk.Keys {
		switch zk.States[j] {
		case StatePublished, StateActive, StateRetired:
			others = others || x != k
		}
	}
	if !others {
		return time.Time{}
	}
	return publish.Add(dnskeyTTL)
}

// Activated returns timing t with the key active from when: no Inactive
// or Delete time, and published from when at the latest.
func Activated(t Timing, when time.Time) Timing {
	t.Activate, t.Inactive, t.Delete = when, time.Time{}, time.Time{}
	if t.Publish.IsZero() || t.Publish.After(when) {
		t.Publish = when
	}
	return t
}

// AddKey writes k's files into dir (Key.Write) and loads the directory at
// now: a key that would make a registrar refuse the directory (a second
// key with its tag, say) is removed again, and the error says why. Keys
// are never left that a registrar would refuse.
func AddKey(dir string, k *Key, now time.Time) error {
	if err := k.Write(dir); err != nil {
		return err
	}
	if _, err := Load(dir, now); err != nil {
		return errors.Join(fmt.Errorf("dnssec: the new key %d of %s would not load; its files are removed again", k.Tag, k.Zone),
			err, os.Remove(k.File), os.Remove(k.PrivateFile()))
	}
	return nil
}

// Retime sets k's timing to t (Key.SetTiming) and loads dir at each time
// of at: if the directory does not load at one of them (a zone left
// without an active key then, say), k's files get their old timing back
// and the error says why.
func Retime(dir string, k *Key, t Timing, at ...time.Time) error {
	old := k.Timing
	if err := k.SetTiming(t); err != nil {
		return err
	}
	for _, when := range at {
		if _, err := Load(dir, when); err != nil {
			return errors.Join(err, k.SetTiming(old))
		}
	}
	return nil
}
