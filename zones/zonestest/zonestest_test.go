package zonestest

import (
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
)

const zone = `$ORIGIN pool.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 5
@ NS ns1
ns1 A 192.0.2.53
$POOL web answers=5
web PE 10.0.0.1:80 name=z1
`

// TestApply: the zone of the text is served, with its pool and element.
func TestApply(t *testing.T) {
	hs := handlespace.New(handlespace.Options{RegistrarID: 1})
	Apply(t, hs, zone)
	pv := hs.View().Pool("web.pool.test.")
	if pv == nil || pv.Len() != 1 || pv.Label("z1") == nil {
		t.Fatalf("pool web.pool.test.: %v", pv)
	}
	if def := Def(t, zone); def.Origin != "pool.test." || len(def.Pools) != 1 {
		t.Errorf("Def: origin %q, %d pools; want pool.test. and 1", def.Origin, len(def.Pools))
	}
}
