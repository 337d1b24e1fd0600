package dnssec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Keys is the keys of every zone as Load read them from one directory at
// one time: immutable, shared by every query. A daemon loads a new Keys on
// reload and swaps it in whole (Signer.SetKeys); a Keys that failed to load
// is never half used.
type Keys struct {
	// Dir is the directory read.
	Dir string
	// At is the time the key states are computed for.
	At    time.Time
	zones map[string]*ZoneKeys
}

// ZoneKeys is one zone's keys and what each one does at Keys.At.
type ZoneKeys struct {
	// Zone is the zone's name, lower case, with the final dot.
	Zone string
	// Keys are the zone's keys found in the directory, removed ones
	// included, by key tag.
	Keys []*Key
	// States are the keys' states at Keys.At, aligned with Keys.
	States []State

	published   []*Key // in the DNSKEY RRset; each signs it
	dataSigners []*Key // sign every other RRset
}

// Zones returns the names of the zones that have keys, sorted.
func (ks *Keys) Zones() []string {
	var out []string
	for z := range ks.zones {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// Zone returns a zone's keys (name in lower case, with the final dot), nil
// if the zone has none: then it is not signed.
func (ks *Keys) Zone(name string) *ZoneKeys {
	if ks == nil {
		return nil
	}
	return ks.zones[name]
}

// NextEvent returns the first time after At when a key's state changes
// (its Publish, Activate, Inactive or Delete time), zero if none is
// planned: the daemon loads the keys again then.
func (ks *Keys) NextEvent() time.Time {
	var n time.Time
	for _, z := range ks.zones {
		for _, k := range z.Keys {
			if t := k.Timing.next(ks.At); !t.IsZero() && (n.IsZero() || t.Before(n)) {
				n = t
			}
		}
	}
	return n
}

// Role says what a key signs, by its state and flags.
func (z *ZoneKeys) Role(k *Key) string {
	switch {
	case slices.Contains(z.dataSigners, k) && slices.Contains(z.published, k):
		return "signs the zone"
	case slices.Contains(z.published, k):
		return "signs DNSKEY only"
	}
	return "signs nothing"
}

// Published returns the keys in the zone's DNSKEY RRset.
func (z *ZoneKeys) Published() []*Key { return slices.Clone(z.published) }

// Signers returns the keys that sign the zone's RRsets (the DNSKEY RRset
// is signed by every published key).
func (z *ZoneKeys) Signers() []*Key { return slices.Clone(z.dataSigners) }

// ParentDS returns the keys whose DS the parent zone should hold: the
// published and active keys with the SEP flag (all of them if none has
// it). Retired keys are left out: their DS goes before they are deleted.
func (z *ZoneKeys) ParentDS() []*Key {
	var sep, all []*Key
	for i, k := range z.Keys {
		if s := z.States[i]; s != StatePublished && s != StateActive {
			continue
		}
		all = append(all, k)
		if k.SEP() {
			sep = append(sep, k)
		}
	}
	if len(sep) > 0 {
		return sep
	}
	return all
}

// Load reads every key pair (K<zone>+<alg>+<tag>.key and .private) in dir
// and computes their states at now. A missing dir holds no keys. Files of
// other names (BIND's .state, ldns's .ds, sub-directories) are left alone.
// The error has one line per bad file or zone, naming the file's path and
// saying why; with an error, no key is usable (the caller keeps its last
// good Keys, or refuses to start).
func Load(dir string, now time.Time) (*Keys, error) {
	ks := &Keys{Dir: dir, At: now, zones: map[string]*ZoneKeys{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return ks, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dnssec: keys directory %w", fileErr(dir, err))
	}
	var errs []error
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	for _, e := range entries {
		m := keyFileName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if m[4] == "private" {
			if !names[strings.TrimSuffix(e.Name(), ".private")+".key"] {
				errs = append(errs, fmt.Errorf("dnssec: %s: %w", path, ErrNoPublic))
			}
			continue
		}
		k, err := ReadKey(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		z := ks.zones[k.Zone]
		if z == nil {
			z = &ZoneKeys{Zone: k.Zone}
			ks.zones[k.Zone] = z
		}
		z.Keys = append(z.Keys, k)
	}
	for _, z := range ks.zones {
		if err := z.settle(now); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ks, nil
}

// settle computes the keys' states and roles at now, and checks that the
// zone can be signed: at least one active key, and an active key of every
// algorithm in the DNSKEY RRset (RFC 4035 §2.2).
func (z *ZoneKeys) settle(now time.Time) error {
	slices.SortFunc(z.Keys, func(a, b *Key) int {
		if a.Tag != b.Tag {
			return int(a.Tag) - int(b.Tag)
		}
		return int(a.Algorithm) - int(b.Algorithm)
	})
	z.States = make([]State, len(z.Keys))
	var active []*Key
	zsk := false
	for i, k := range z.Keys {
		s := k.Timing.State(now)
		z.States[i] = s
		switch s {
		case StatePublished, StateRetired:
			z.published = append(z.published, k)
		case StateActive:
			z.published = append(z.published, k)
			active = append(active, k)
			zsk = zsk || !k.SEP()
		}
	}
	if len(active) == 0 {
		return fmt.Errorf("dnssec: zone %s has keys but none is active at %s (%s); activate one, or remove the zone's key files to serve it unsigned",
			z.Zone, now.UTC().Format(time.RFC3339), z.describe())
	}
	for _, k := range active {
		// With a key signing key and a zone signing key (flags 257 and
		// 256), the KSK signs the DNSKEY RRset only.
		if !zsk || !k.SEP() {
			z.dataSigners = append(z.dataSigners, k)
		}
	}
	for _, k := range z.published {
		if !slices.ContainsFunc(z.dataSigners, func(s *Key) bool { return s.Algorithm == k.Algorithm }) {
			return fmt.Errorf("dnssec: zone %s: key %d (%s, %s) is in the DNSKEY RRset but no active key of algorithm %s signs the zone (RFC 4035 2.2); in an algorithm rollover, activate the new key when it is published and keep the old one active until it is deleted",
				z.Zone, k.Tag, AlgorithmName(k.Algorithm), z.stateOf(k), AlgorithmName(k.Algorithm))
		}
	}
	return nil
}

func (z *ZoneKeys) stateOf(k *Key) State {
	i := slices.Index(z.Keys, k)
	return z.States[i]
}

func (z *ZoneKeys) describe() string {
	var parts []string
	for i, k := range z.Keys {
		parts = append(parts, fmt.Sprintf("%d %s", k.Tag, z.States[i]))
	}
	return strings.Join(parts, ", ")
}
