//go:build linux

package ptree

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/internal/threadcpu"
)

// BenchmarkDiff is what Diff costs between two versions of a tree of n
// entries d changes apart (issue 13 part 3: the history's Sample and the
// monitor's sync diff a pool of 1 000 000 after a second of 1 000
// registrations). Each iteration replaces d random entries in batches of
// 32 (group commits), untimed, then times one Diff of the version before
// against the one after. warm: straight after the changes, as the
// monitor's sync after a commit; cold: after the caches were flushed by
// a walk of 64 MB, as the history's Sample a second later.
func BenchmarkDiff(b *testing.B) {
	for _, c := range []struct{ n, d int }{{1000, 1000}, {1_000_000, 1}, {1_000_000, 32}, {1_000_000, 1000}} {
		for _, cold := range []bool{false, true} {
			name := fmt.Sprintf("n=%d/d=%d/warm", c.n, c.d)
			if cold {
				name = fmt.Sprintf("n=%d/d=%d/cold", c.n, c.d)
			}
			b.Run(name, func(b *testing.B) { benchDiff(b, c.n, c.d, cold) })
		}
	}
}

var flushBuf []uint64

func benchDiff(b *testing.B, n, d int, cold bool) {
	ents := make([]Entry[elem], n)
	for i := range ents {
		id := uint32(i + 1)
		ents[i] = Entry[elem]{Key: uint64(id), Elem: &elem{ID: id}}
	}
	tr := Build(ByID, false, ents)
	ents = nil
	var sc Scratch[elem]
	r := rand.New(rand.NewPCG(7, uint64(n)))
	if cold && flushBuf == nil {
		flushBuf = make([]uint64, 64<<20/8)
	}
	var mods []Entry[elem]
	changed := 0
	var cpu time.Duration
	runtime.LockOSThread() // threadCPU's thread
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		old := tr
		for i := 0; i < d; i += 32 {
			mods = mods[:0]
			for range min(32, d-i) {
				id := uint32(1 + r.IntN(n))
				mods = append(mods, Entry[elem]{Key: uint64(id), Elem: &elem{ID: id}})
			}
			mods = tr.SortMods(mods)
			tr = tr.Update(mods, &sc)
		}
		if cold {
			for i := range flushBuf {
				flushBuf[i]++
			}
		}
		b.StartTimer()
		c0 := threadcpu.Now()
		Diff(&old, &tr, func(x, y *elem) { changed++ })
		cpu += threadcpu.Now() - c0
	}
	b.StopTimer()
	if changed == 0 {
		b.Fatal("no change found")
	}
	b.ReportMetric(float64(changed)/float64(b.N), "changes/op")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}
