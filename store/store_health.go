package store

import (
	"bytes"
	"fmt"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// Bucket and key of the last known health (see Store): added within
// format 1, an older poolnsd ignores them.
var (
	bucketHealth = []byte("health")
	keyHealthAt  = []byte("health_at")
)

// HealthWrite is one write of PutHealth: Health is the last known health
// of element ID of Pool; handlespace.HealthUnknown removes what is stored.
type HealthWrite struct {
	Pool   string
	ID     uint32
	Health handlespace.Health
}

// PutHealth writes the last known health of elements, in one transaction
// (one fsync however many), and notes at as the time of the writes; it
// returns once they are on disk. On error nothing of ws is written. The
// writer batches: a probe result is not a write, a batch of changes is.
func (s *Store) PutHealth(ws []HealthWrite, at time.Time) error {
	if len(ws) == 0 {
		return nil
	}
	type kv struct{ k, v []byte }
	enc := make([]kv, len(ws))
	for i, w := range ws {
		var v []byte
		switch w.Health {
		case handlespace.HealthUp, handlespace.HealthDown:
			v = []byte(w.Health.String())
		case handlespace.HealthUnknown:
		default:
			return fmt.Errorf("%s: element %s of %s: no health %d", s.path, handlespace.IDString(w.ID), w.Pool, w.Health)
		}
		enc[i] = kv{elementKey(normPool(w.Pool), w.ID), v}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHealth)
		for _, e := range enc {
			var err error
			if e.v == nil {
				err = b.Delete(e.k)
			} else {
				err = b.Put(e.k, e.v)
			}
			if err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyHealthAt, []byte(at.UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return fmt.Errorf("%s: store the health of %d elements: %v", s.path, len(ws), err)
	}
	return nil
}

// Healths calls f for every stored health (up or down), sorted by pool
// then ID, and returns when they were last written (zero if never). f runs
// outside the store's transaction. An undecodable record is an error
// naming it.
func (s *Store) Healths(f func(pool string, id uint32, h handlespace.Health)) (time.Time, error) {
	type item struct {
		pool string
		id   uint32
		h    handlespace.Health
	}
	var items []item
	var at time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyHealthAt); v != nil {
			t, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return fmt.Errorf("%s: bad %s %q; move the store away to start afresh", s.path, keyHealthAt, v)
			}
			at = t
		}
		return tx.Bucket(bucketHealth).ForEach(func(k, v []byte) error {
			pool, id, ok := splitElementKey(k)
			if !ok {
				return fmt.Errorf("%s: bad health key %q; move the store away to start afresh", s.path, k)
			}
			var h handlespace.Health
			switch string(v) {
			case "up":
				h = handlespace.HealthUp
			case "down":
				h = handlespace.HealthDown
			default:
				return fmt.Errorf("%s: element %s of %s: bad health %q; move the store away to start afresh", s.path, handlespace.IDString(id), pool, v)
			}
			items = append(items, item{pool, id, h})
			return nil
		})
	})
	if err != nil {
		return time.Time{}, err
	}
	for _, it := range items {
		f(it.pool, it.id, it.h)
	}
	return at, nil
}

// PruneHealth removes, in one transaction, the stored healths for which
// keep returns false, and returns how many it removed. When keep refuses
// none it writes nothing.
func (s *Store) PruneHealth(keep func(pool string, id uint32) bool) (int, error) {
	var drop [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHealth).ForEach(func(k, _ []byte) error {
			if pool, id, ok := splitElementKey(k); !ok || !keep(pool, id) {
				drop = append(drop, bytes.Clone(k)) // k is valid only in the transaction
			}
			return nil
		})
	})
	if err == nil && len(drop) > 0 {
		err = s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketHealth)
			for _, k := range drop {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return 0, fmt.Errorf("%s: prune stored healths: %v", s.path, err)
	}
	return len(drop), nil
}
