package wire

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestFromPELabel: a peer's label of 63 octets is kept whole; a longer one
// is refused with the length it had, not cut to what an element keeps.
func TestFromPELabel(t *testing.T) {
	now := time.Now()
	pe := func(label string) *PE {
		return &PE{ID: 7, Home: 9, RegLife: NoLease, Transport: Transport{Proto: ParamTCP, Port: 80, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.9")}},
			Policy: Policy{Type: PolicyRoundRobin}, X: &ElementX{Label: label}}
	}
	ok := strings.Repeat("a", 63)
	if e, _, _, err := FromPE(pe(ok), now); err != nil || e.Label.String() != ok {
		t.Errorf("label of 63 octets: %v", err)
	}
	if _, _, _, err := FromPE(pe(strings.Repeat("b", 70)), now); err == nil || !strings.Contains(err.Error(), "70 octets") {
		t.Errorf("label of 70 octets: %v, want an error that says so", err)
	}
}
