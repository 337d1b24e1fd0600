package store

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// benchElem is registered element i.
func benchElem(i int) *handlespace.Element {
	a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return &handlespace.Element{ID: uint32(i + 1), Label: handlespace.LabelOf(fmt.Sprintf("pe%d", i)), Addrs: handlespace.AddrsOf(a), Port: 80, Weight: 1,
		Expires: handlespace.ExpiryOf(time.Unix(2e9, 0)), Lease: time.Minute, Owner: handlespace.OwnerOf("tsig:bench.")}
}

// BenchmarkStoreWrites compares three ways of making 64 concurrent
// writers' registrations durable (each b.N op is one element written and
// synced): a bbolt Update (one fsync) per write, bbolt's own db.Batch
// (which waits up to MaxBatchDelay, 10 ms, to gather calls), and group
// commit as the registrar does it (Commit of every write that queued while
// the last commit ran; modelled here by batches of 64).
func BenchmarkStoreWrites(b *testing.B) {
	const writers = 64
	put := func(s *Store, i int64) error {
		e := benchElem(int(i))
		v, err := encodeElement(e)
		if err != nil {
			return err
		}
		return s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketElements).Put(elementKey("web.z.test.", e.ID), v)
		})
	}
	batch := func(s *Store, i int64) error {
		e := benchElem(int(i))
		v, err := encodeElement(e)
		if err != nil {
			return err
		}
		return s.db.Batch(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketElements).Put(elementKey("web.z.test.", e.ID), v)
		})
	}
	for _, mode := range []string{"update-per-write", "bbolt-db.Batch", "group-commit-64"} {
		b.Run(mode, func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			b.ResetTimer()
			if mode == "group-commit-64" {
				for i := 0; i < b.N; i += writers {
					ops := make([]Write, 0, writers)
					for k := i; k < min(i+writers, b.N); k++ {
						ops = append(ops, Write{Pool: "web.z.test.", Elem: benchElem(k)})
					}
					if err := s.Commit(ops); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						f := put
						if mode == "bbolt-db.Batch" {
							f = batch
						}
						if err := f(s, i); err != nil {
							panic(fmt.Sprint(err))
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkCommitRefresh is the store's part of a registration's cost at
// two sizes (issue 13 part 3): a store holding n registrations in one pool
// takes refreshes of random elements in group commits of k (each b.N op is
// one refresh), and at the end moves its log into bbolt (within the
// timing, so that the compaction's cost is counted: a pessimistic share of
// it, since a short run compacts few writes per page). It reports the
// process's CPU per refresh (rusage) and the pages bbolt wrote per
// refresh beside the wall time.
//
//	go test -run XXX -bench CommitRefresh -benchtime 20000x ./store
func BenchmarkCommitRefresh(b *testing.B) {
	if os.Getenv("BOLT_NOFLSYNC") != "" {
		old := boltOptions
		boltOptions = func() *bolt.Options {
			o := old()
			o.NoFreelistSync, o.FreelistType = true, bolt.FreelistMapType
			return o
		}
		defer func() { boltOptions = old }()
	}
	for _, n := range []int{1000, 1000000} {
		dir := b.TempDir()
		s, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		const chunk = 20000
		ws := make([]Write, 0, chunk)
		for i := 0; i < n; i++ {
			ws = append(ws, Write{Pool: "big.z.test.", Elem: benchElem(i)})
			if len(ws) == chunk || i == n-1 {
				if err := s.Commit(ws); err != nil {
					b.Fatal(err)
				}
				ws = ws[:0]
			}
		}
		if err := s.flushLog(); err != nil {
			b.Fatal(err)
		}
		for _, k := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("n=%d/k=%d", n, k), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(uint64(n), uint64(k)))
				st0 := s.db.Stats()
				cpu0 := cpuTime()
				b.ResetTimer()
				for i := 0; i < b.N; i += k {
					ops := make([]Write, 0, k)
					for j := i; j < min(i+k, b.N); j++ {
						e := benchElem(rng.IntN(n))
						e.Load = uint32(j)
						ops = append(ops, Write{Pool: "big.z.test.", Elem: e})
					}
					if err := s.Commit(ops); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.flushLog(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st1 := s.db.Stats()
				st := st1.Sub(&st0)
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(st.TxStats.GetWrite())/float64(b.N), "pages/op")
			})
		}
		s.Close()
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

// BenchmarkRecordEncode: the key and record of one registration, as
// Commit encodes them for the log.
//
//	go test -run XXX -bench RecordEncode -benchmem ./store
func BenchmarkRecordEncode(b *testing.B) {
	ops := []Write{{Pool: "big0.bench.test.", Elem: benchElem(123456)}}
	ops[0].Elem.Load, ops[0].Elem.Home = 0x5eb851eb, 0x5a6b7c8d
	x := recordEncoders.Get().(*recordEncoder)
	defer x.put()
	for b.Loop() {
		if _, err := x.encode(ops); err != nil {
			b.Fatal(err)
		}
	}
}
