package monitor_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/monitor"
	"github.com/poolnsd/poolnsd/store"
	"github.com/poolnsd/poolnsd/zones/zonestest"
)

// BenchmarkHealthWrites is the cost of keeping health changes in the
// bbolt store (fsync included), per change of one element's health in a
// probed pool of 10 000: written one transaction per change, as a naive
// writer would, or by a Keeper that writes what changed every second, here
// after each 100 or 1000 changes (a handlespace with 100 or 1000 health
// changes a second). It reports bbolt transactions per change (tx/change).
func BenchmarkHealthWrites(b *testing.B) {
	for _, every := range []int{1, 100, 1000} {
		name := "per-change"
		if every > 1 {
			name = fmt.Sprintf("keeper-%d-changes-a-write", every)
		}
		b.Run(name, func(b *testing.B) { benchHealthWrites(b, every) })
	}
}

func benchHealthWrites(b *testing.B, every int) {
	const n = 10000
	hs := handlespace.New(handlespace.Options{RegistrarID: self, Probing: true})
	zone := zoneHead + "$POOL web probe=tcp interval=1s timeout=500ms\n"
	zonestest.Apply(b, hs, zone)
	edits := make([]handlespace.Edit, n)
	for i := range edits {
		edits[i] = handlespace.Edit{Pool: web, Put: &handlespace.Element{
			ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("e%d", i)), Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})),
			Port: 80, Weight: 1, Health: handlespace.HealthUp, Home: self,
		}}
	}
	for i, err := range hs.ApplyEdits(edits) {
		if err != nil {
			b.Fatalf("element %d: %v", i, err)
		}
	}
	s, err := store.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st := &bboltStore{Store: s}
	kp := monitor.NewKeeper(hs, st, monitor.KeeperConfig{Logger: discard()})
	kp.Flush() // every element's health, once
	tx0 := st.txs
	b.ResetTimer()
	for i := range b.N {
		id := uint32(i%n + 1)
		h := handlespace.HealthDown
		if (i/n)%2 == 1 {
			h = handlespace.HealthUp
		}
		if err := hs.Update(web, id, func(e *handlespace.Element) { e.Health = h }); err != nil {
			b.Fatal(err)
		}
		switch {
		case every == 1:
			if err := st.PutHealth([]store.HealthWrite{{Pool: web, ID: id, Health: h}}, time.Now()); err != nil {
				b.Fatal(err)
			}
		case (i+1)%every == 0:
			kp.Flush()
		}
	}
	kp.Flush()
	b.StopTimer()
	b.ReportMetric(float64(st.txs-tx0)/float64(b.N), "tx/change")
}
