package store

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// benchElem is registered element i.
func benchElem(i int) *handlespace.Element {
	a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	return &handlespace.Element{ID: uint32(i + 1), Label: fmt.Sprintf("pe%d", i), Addrs: []netip.Addr{a}, Port: 80, Weight: 1,
		Expires: time.Unix(2e9, 0), Lease: time.Minute, Owner: "tsig:bench."}
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
