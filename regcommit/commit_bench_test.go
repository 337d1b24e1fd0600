package regcommit

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/store"
)

// BenchmarkCommitPath is a registration's commit path at two pool sizes
// (issue 13 part 3), in process: a pool of n registered elements, and 16
// clients refreshing random ones (each with a new load, so each is a
// change) through a Committer over a real store, which group-commits
// what queues while it writes. Each b.N op is one acknowledged refresh;
// the store's log is compacted at the end, within the timing. It reports
// the process's CPU per refresh (rusage: the committer, the store, the
// handlespace's copies and the garbage collector, at poolnsd serve's
// GOGC of 200) and the mean batch. Not in it: the front ends' parsing and
// replies and what reacts to a change (monitor, history), measured
// elsewhere.
//
//	go test -run XXX -bench CommitPath -benchtime 20000x ./regcommit
func BenchmarkCommitPath(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(200))
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			hs := handlespace.New(handlespace.Options{RegistrarID: 9})
			if err := hs.ApplyZones([]handlespace.ZoneDef{{Origin: "z.test.", File: "z", Records: hstest.RRs(b, zoneText),
				Pools: []handlespace.PoolDef{{Handle: "web", Spec: handlespace.DefaultPoolSpec(), Elements: []*handlespace.Element{
					{ID: 1, Label: handlespace.LabelOf("s1"), Addrs: handlespace.AddrsOf(netip.MustParseAddr("10.9.9.9")), Port: 80}}}}}}); err != nil {
				b.Fatal(err)
			}
			st, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			exp := time.Now().Add(time.Hour)
			elem := func(i int) *handlespace.Element {
				return &handlespace.Element{ID: uint32(i + 2), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)),
					Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})),
					Port:  8080, Weight: 1, Expires: handlespace.ExpiryOf(exp), Lease: time.Hour, Owner: handlespace.OwnerOf("tsig:bench.")}
			}
			const chunk = 1 << 15
			var groups [][]handlespace.Op
			var ws []store.Write
			for i := 0; i < n; i++ {
				e := elem(i)
				groups = append(groups, []handlespace.Op{{Pool: "web.z.test.", Elem: e}})
				ws = append(ws, store.Write{Pool: "web.z.test.", Elem: e})
				if len(groups) == chunk || i == n-1 {
					for _, err := range hs.Apply(groups, nil) {
						if err != nil {
							b.Fatal(err)
						}
					}
					if err := st.Commit(ws); err != nil {
						b.Fatal(err)
					}
					groups, ws = groups[:0], ws[:0]
				}
			}
			if err := st.Compact(); err != nil {
				b.Fatal(err)
			}
			r := New(hs, st, Config{Logger: slog.New(slog.DiscardHandler), LeaseMax: 2 * time.Hour})
			defer r.Close()
			s0 := r.Stats()
			var next atomic.Int64
			var wg sync.WaitGroup
			cpu0 := cpuTime()
			b.ResetTimer()
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					for next.Add(1) <= int64(b.N) {
						i := rng.IntN(n)
						e := elem(i)
						e.ID, e.Owner, e.Expires, e.Lease = 0, handlespace.OwnerOf(""), handlespace.ExpiryOf(time.Time{}), 0
						e.Load = rng.Uint32()
						if _, err := r.Submit(context.Background(), reg("tsig:bench.", e.Label.String(), e, time.Hour)); err != nil {
							panic(err)
						}
					}
				}()
			}
			wg.Wait()
			if err := st.Compact(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			s := r.Stats()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(s.Requests-s0.Requests)/float64(s.Batches-s0.Batches), "requests/batch")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
