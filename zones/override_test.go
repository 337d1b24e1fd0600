package zones

import (
	"testing"
	"testing/fstest"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// TestProbeOverride: probe keys on a PE line override the pool's settings
// for that element only; the timing rule applies to the result.
func TestProbeOverride(t *testing.T) {
	const zone = `$ORIGIN z.test.
$TTL 60
@ SOA ns h 1 60 60 60 5
@ NS ns
ns A 192.0.2.1
$POOL web probe=http:/healthz interval=1s timeout=300ms
web PE 10.0.0.1:80
web PE 10.0.0.2:80 probe=tcp interval=200ms timeout=100ms fall=3
`
	def, err := Parse(fstest.MapFS{"z.zone": {Data: []byte(zone)}}, "z.zone")
	if err != nil {
		t.Fatal(err)
	}
	els := def.Pools[0].Elements
	if els[0].Probe.Spec() != nil {
		t.Errorf("element without probe keys has an override: %+v", els[0].Probe.Spec())
	}
	want := handlespace.ProbeSpec{Kind: "tcp", Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond, Rise: 2, Fall: 3, Jitter: 0.1}
	if els[1].Probe.Spec() == nil || *els[1].Probe.Spec() != want {
		t.Errorf("override %+v, want %+v", els[1].Probe.Spec(), want)
	}
	bad := zone + "web PE 10.0.0.3:80 interval=200ms\n"
	_, err = Parse(fstest.MapFS{"z.zone": {Data: []byte(bad)}}, "z.zone")
	if err == nil || err.Error() != "z.zone:9:29: probe timeout 300ms is not shorter than the interval 200ms; want timeout < interval" {
		t.Errorf("override that breaks the timing rule: %v", err)
	}
}
