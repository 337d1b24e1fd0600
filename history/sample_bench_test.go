//go:build linux

package history

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/internal/hstest"
	"github.com/poolnsd/poolnsd/internal/threadcpu"
)

// BenchmarkSampleChanges is what one Sample costs the recorder after
// changes made in a pool of n elements (issue 13 part 3: the sampler
// beside the UDP loop at 1 000 000 elements and 1 000 registrations a
// second), as the daemon wires it (Inputs.Changed, a Reason). Each
// iteration applies d changes in batches of 32 (group commits) and times
// one Sample: refresh, every change a registration's refresh with a new
// load and lease end (bench/bigpool's); mixed, 1 % each of health
// changes, new elements and elements gone among the refreshes. It
// reports the thread's CPU per Sample (cpu-ns/sample, the figure to
// compare on a loaded machine), the longest of them (max-cpu-ns), the
// pieces between two turns (p99-piece-cpu-ns and max-piece-cpu-ns: what a
// UDP loop waits for; on a loaded VM a thread's CPU clock now and then
// counts a few ms of a stall too) and the turns per Sample.
func BenchmarkSampleChanges(b *testing.B) {
	for _, n := range []int{1000, 1_000_000} {
		for _, mix := range []string{"refresh", "mixed"} {
			b.Run(fmt.Sprintf("n=%d/d=1000/%s", n, mix), func(b *testing.B) { benchSampleChanges(b, n, 1000, mix) })
		}
	}
}

func benchSampleChanges(b *testing.B, n, d int, mix string) {
	f := newBigPool(b, n)
	w := f.hs.Watch()
	defer w.Close()
	var piece0 time.Duration // the piece's start
	var pieces []time.Duration
	turn := func() {
		c := threadcpu.Now()
		pieces = append(pieces, c-piece0)
		piece0 = c
	}
	r := New(Config{}, Inputs{View: f.hs.View, Changed: w.Changed, Self: f.hs.RegistrarID, Reason: f.reason, Turn: turn})
	now := t0b
	r.Sample(now) // the first walk, of every element
	var sum, most time.Duration
	runtime.LockOSThread() // threadCPU's thread
	defer runtime.UnlockOSThread()
	pieces = pieces[:0]
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		f.change(b, d, mix)
		now = now.Add(time.Second)
		b.StartTimer()
		c0 := threadcpu.Now()
		piece0 = c0
		r.Sample(now)
		c1 := threadcpu.Now()
		sum += c1 - c0
		most = max(most, c1-c0)
		pieces = append(pieces, c1-piece0)
	}
	b.StopTimer()
	b.ReportMetric(float64(sum)/float64(b.N), "cpu-ns/sample")
	b.ReportMetric(float64(most), "max-cpu-ns")
	slices.Sort(pieces)
	b.ReportMetric(float64(pieces[len(pieces)*99/100]), "p99-piece-cpu-ns")
	b.ReportMetric(float64(pieces[len(pieces)-1]), "max-piece-cpu-ns")
	b.ReportMetric(float64(len(pieces)-b.N)/float64(b.N), "turns/sample")
	// The pieces over 0.5 ms per sample: a p99 of fewer pieces (fewer
	// turns) is nearer the max, which the machine's stalls make.
	long := len(pieces) - sort.Search(len(pieces), func(i int) bool { return pieces[i] > 500*time.Microsecond })
	b.ReportMetric(float64(long)/float64(b.N), "long-pieces/sample")
}

// BenchmarkFirstWalk is a recorder's first Sample of a pool of n
// elements (its walk of every element, as at the daemon's start), as the
// daemon wires it: the thread's CPU per Sample (cpu-ns/sample) and the
// part of it spent with the lock held that History and Peers take
// (locked-cpu-ns/sample: what a reader may wait for). Each piece (a turn
// every PieceBudget) counts as locked when the lock is held at its end
// (the turn tries it; the sampling goroutine itself calls the turn), the
// last one, which ends inside Sample, as locked.
func BenchmarkFirstWalk(b *testing.B) {
	for _, n := range []int{1000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			f := newBigPool(b, n)
			var piece0, locked time.Duration
			var r *Recorder
			turn := func() {
				c := threadcpu.Now()
				if r.mu.TryLock() {
					r.mu.Unlock()
				} else {
					locked += c - piece0
				}
				piece0 = c
			}
			var sum time.Duration
			runtime.LockOSThread() // threadCPU's thread
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				r = New(Config{}, Inputs{View: f.hs.View, Self: f.hs.RegistrarID, Reason: f.reason, Turn: turn})
				b.StartTimer()
				c0 := threadcpu.Now()
				piece0 = c0
				r.Sample(t0b)
				c1 := threadcpu.Now()
				sum += c1 - c0
				locked += c1 - piece0
			}
			b.StopTimer()
			b.ReportMetric(float64(sum)/float64(b.N), "cpu-ns/sample")
			b.ReportMetric(float64(locked)/float64(b.N), "locked-cpu-ns/sample")
		})
	}
}

var t0b = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// bigPool is a handlespace with one pool of n registered elements (IDs 1
// to n, home the registrar) that changes as bench/bigpool's
// registrations change it.
type bigPool struct {
	hs     *handlespace.Handlespace
	n      int // elements ever made (IDs 1..n)
	rng    *rand.Rand
	now    time.Time
	groups [][]handlespace.Op
}

const bigPoolName = "big.pool.test."

func newBigPool(tb testing.TB, n int) *bigPool {
	tb.Helper()
	f := &bigPool{now: t0b, rng: rand.New(rand.NewPCG(7, uint64(n)))}
	f.hs = handlespace.New(handlespace.Options{RegistrarID: 7, Now: func() time.Time { return f.now }})
	rrs := hstest.RRs(tb, "pool.test. 3600 IN SOA ns1.pool.test. h.pool.test. 1 3600 600 86400 30\npool.test. 3600 IN NS ns1.pool.test.\nns1.pool.test. 3600 IN A 192.0.2.53\n")
	if err := f.hs.ApplyZones([]handlespace.ZoneDef{{Origin: "pool.test.", File: "t.zone", Records: rrs}}); err != nil {
		tb.Fatal(err)
	}
	const chunk = 1 << 16
	for i := 0; i < n; i++ {
		f.groups = append(f.groups, []handlespace.Op{{Pool: bigPoolName, Elem: f.elem(i+1, 0)}})
		if len(f.groups) == chunk || i == n-1 {
			f.apply(tb)
		}
	}
	f.n = n
	return f
}

func (f *bigPool) elem(id, load int) *handlespace.Element {
	return &handlespace.Element{ID: uint32(id), Label: handlespace.LabelOf(fmt.Sprintf("e%d", id)),
		Addrs: handlespace.AddrsOf(netip.AddrFrom4([4]byte{10, byte(id >> 16), byte(id >> 8), byte(id)})),
		Port:  8080, Weight: 1, Load: uint32(load), Expires: handlespace.ExpiryOf(f.now.Add(2 * time.Hour)), Lease: 2 * time.Hour}
}

func (f *bigPool) apply(tb testing.TB) {
	for _, err := range f.hs.Apply(f.groups, nil) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	f.groups = f.groups[:0]
}

// reason is the probes' error of element id: one of three down ones has
// one.
func (f *bigPool) reason(pool string, id uint32) string {
	if id%3 == 0 {
		return "connection refused"
	}
	return ""
}

// change makes d changes in batches of 32: refreshes of random elements
// (a new load and lease end), and with mix "mixed" 1 % each of health
// flips, new elements and removals.
func (f *bigPool) change(tb testing.TB, d int, mix string) {
	f.now = f.now.Add(time.Second)
	for i := range d {
		id := 1 + f.rng.IntN(f.n)
		k := 99
		if mix == "mixed" {
			k = f.rng.IntN(100)
		}
		switch k {
		case 0:
			f.applyLoose()
			h := handlespace.HealthDown
			if f.rng.IntN(2) == 0 {
				h = handlespace.HealthUp
			}
			_ = f.hs.Update(bigPoolName, uint32(id), func(e *handlespace.Element) { e.Health = h }) // may be gone
		case 1:
			f.n++
			f.groups = append(f.groups, []handlespace.Op{{Pool: bigPoolName, Elem: f.elem(f.n, i)}})
		case 2:
			f.groups = append(f.groups, []handlespace.Op{{Pool: bigPoolName, ID: uint32(id)}})
		default:
			f.groups = append(f.groups, []handlespace.Op{{Pool: bigPoolName, Elem: f.elem(id, i)}})
		}
		if len(f.groups) == 32 {
			f.applyLoose()
		}
	}
	f.applyLoose()
}

// applyLoose is apply for changes that may fail (a refresh or removal of
// an element removed before).
func (f *bigPool) applyLoose() {
	f.hs.Apply(f.groups, nil)
	f.groups = f.groups[:0]
}
