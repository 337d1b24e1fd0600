package metrics

import (
	"slices"
	"testing"

	"github.com/poolnsd/poolnsd/probe/probespec"
)

// TestKindNamesFollowProbespec: the kind label's values are the probe
// kinds of probespec (none is never probed), then "other", so that a kind
// added there is not counted as other here.
func TestKindNamesFollowProbespec(t *testing.T) {
	want := append(slices.DeleteFunc(slices.Clone(probespec.Kinds), func(k string) bool { return k == "none" }), "other")
	if !slices.Equal(kindNames[:], want) {
		t.Errorf("kind label values %q, want %q", kindNames, want)
	}
}
