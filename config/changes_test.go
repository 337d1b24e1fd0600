package config

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// TestKeyValuesHasEveryKey: every key of Options is a value of the
// flattened configuration, so Changed sees a change to any of them (a key
// whose field lost its mapstructure tag, or became a struct, would never
// be seen changing).
func TestKeyValuesHasEveryKey(t *testing.T) {
	vals := keyValues(Defaults())
	for _, o := range Options() {
		if _, ok := vals[o.Key]; !ok {
			t.Errorf("key %s is not in the flattened configuration", o.Key)
		}
	}
	if len(vals) != len(Options()) {
		t.Errorf("%d flattened values, %d keys", len(vals), len(Options()))
	}
}

// TestChanged: the keys whose values differ, in the order of Options; a
// slice with the same elements is no change.
func TestChanged(t *testing.T) {
	old := Defaults()
	if got := Changed(old, Defaults()); len(got) != 0 {
		t.Fatalf("Changed of the defaults with themselves: %v", got)
	}
	now := Defaults()
	now.Log.Level = "debug"
	now.DNS.RRL.Slip = old.DNS.RRL.Slip + 1
	now.Reports.Allow = append(slices.Clone(old.Reports.Allow), "192.0.2.0/24")
	now.DNS.Listen = slices.Clone(old.DNS.Listen) // equal, another array
	now.TSIG = []TSIGKey{{Name: "k.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0"}}
	want := []string{"dns.rrl.slip", "log.level", "reports.allow"}
	got := Changed(old, now)
	if !slices.Equal(got, want) {
		t.Errorf("Changed = %v, want %v (in the order of Options; tsig is not a key)", got, want)
	}
	pos := func(k string) int {
		return slices.IndexFunc(Options(), func(o Option) bool { return o.Key == k })
	}
	for i := 1; i < len(got); i++ {
		if pos(got[i-1]) > pos(got[i]) {
			t.Errorf("%s before %s: not the order of Options", got[i-1], got[i])
		}
	}
}

// TestTSIGChanges: keys compared by name whatever its case and final dot;
// what changed is named, never a secret.
func TestTSIGChanges(t *testing.T) {
	s1 := base64.StdEncoding.EncodeToString([]byte("first secret, 32 bytes long...."))
	s2 := base64.StdEncoding.EncodeToString([]byte("second secret, 32 bytes long..."))
	old := []TSIGKey{
		{Name: "same.", Algorithm: "hmac-sha256", Secret: s1},
		{Name: "Case", Algorithm: "hmac-sha256", Secret: s1},
		{Name: "gone.", Algorithm: "hmac-sha256", Secret: s1},
		{Name: "alg.", Algorithm: "hmac-sha256", Secret: s1},
		{Name: "all.", Algorithm: "hmac-sha256", Secret: s1, Pools: []string{"web"}},
	}
	now := []TSIGKey{
		{Name: "same.", Algorithm: "HMAC-SHA256", Secret: " " + s1 + "\n"}, // the same key, written otherwise
		{Name: "case.", Algorithm: "hmac-sha256", Secret: s1},
		{Name: "new.", Algorithm: "hmac-sha512", Secret: s2},
		{Name: "alg.", Algorithm: "hmac-sha512", Secret: s1},
		{Name: "all.", Algorithm: "hmac-sha512", Secret: s2, Pools: []string{"api"}},
	}
	added, removed, changed := TSIGChanges(old, now)
	if !slices.Equal(added, []string{"new."}) || !slices.Equal(removed, []string{"gone."}) ||
		!slices.Equal(changed, []string{"alg. (algorithm)", "all. (algorithm, secret, pools)"}) {
		t.Errorf("TSIGChanges = %q, %q, %q", added, removed, changed)
	}
	for _, s := range slices.Concat(added, removed, changed) {
		if strings.Contains(s, s1) || strings.Contains(s, s2) {
			t.Errorf("a secret in %q", s)
		}
	}
	added, removed, changed = TSIGChanges(nil, nil)
	if added == nil || removed == nil || changed == nil || len(added)+len(removed)+len(changed) != 0 {
		t.Errorf("TSIGChanges(nil, nil) = %#v, %#v, %#v; want three empty slices", added, removed, changed)
	}
}
