package lookup

import (
	"fmt"
	"testing"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
)

// BenchmarkFindSignal: what a question at a signal name costs to find
// (FindSignal, called only for names with a `_signal` label): the signal
// itself, an empty non-terminal above it (a walk of the served zones),
// and a name under `_signal` that is none; 50 signalled children served
// beside the signal zone, their parent served too.
func BenchmarkFindSignal(b *testing.B) {
	zone := func(origin, body string) handlespace.ZoneDef {
		return handlespace.ZoneDef{Origin: origin, File: origin + "zone", Records: hstest.RRs(b,
			"$ORIGIN "+origin+"\n@ 300 IN SOA ns1.ops.test. hostmaster 1 3600 600 86400 60\n"+body)}
	}
	defs := []handlespace.ZoneDef{zone("ops.test.", "@ NS ns1\nns1 A 192.0.2.1\n")}
	parent := "@ NS ns1.ops.test.\n"
	for i := range 50 {
		defs = append(defs, zone(fmt.Sprintf("c%d.example.", i), "@ NS ns1.ops.test.\n@ NS ns2.ops.test.\n"))
		parent += fmt.Sprintf("c%d NS ns1.ops.test.\n", i)
	}
	defs = append(defs, zone("example.", parent))
	hs := handlespace.New(handlespace.Options{RegistrarID: 7})
	if err := hs.ApplyZones(defs); err != nil {
		b.Fatal(err)
	}
	v := hs.View()
	z := v.Zone("ops.test.")
	signalled := func(string) bool { return true }
	for _, c := range []struct {
		name string
		want SignalKind
	}{
		{"_dsboot.c7.example._signal.ns1.ops.test.", SignalRRsets},
		{"c7.example._signal.ns1.ops.test.", SignalENT},
		{"_dsboot.other.example._signal.ns1.ops.test.", SignalNone},
	} {
		b.Run(c.name, func(b *testing.B) {
			if k, _ := FindSignal(v, z, c.name, signalled); k != c.want {
				b.Fatalf("FindSignal(%s) = %d, want %d", c.name, k, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				FindSignal(v, z, c.name, signalled)
			}
		})
	}
}
