package store

import (
	"bytes"
	"fmt"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// PutAdmin stores the administrative state a of element id of pool (auto:
// removes what was stored). It returns once the change is on disk, so that
// a drain can be acknowledged once it returns.
func (s *Store) PutAdmin(pool string, id uint32, a handlespace.Admin) error {
	if a != handlespace.AdminAuto && a != handlespace.AdminDrain && a != handlespace.AdminForceDown {
		return fmt.Errorf("%s: element %s of %s: no administrative state %d", s.path, handlespace.IDString(id), pool, a)
	}
	k := elementKey(normPool(pool), id)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAdmin)
		if a == handlespace.AdminAuto {
			return b.Delete(k)
		}
		return b.Put(k, []byte(a.String()))
	})
	if err != nil {
		return fmt.Errorf("%s: store the administrative state of element %s of %s: %v", s.path, handlespace.IDString(id), pool, err)
	}
	return nil
}

// Admins calls f for every stored administrative state, sorted by pool
// then ID. f runs outside the store's transaction. An undecodable record is
// an error naming it.
func (s *Store) Admins(f func(pool string, id uint32, a handlespace.Admin)) error {
	type item struct {
		pool string
		id   uint32
		a    handlespace.Admin
	}
	var items []item
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAdmin).ForEach(func(k, v []byte) error {
			pool, id, ok := splitElementKey(k)
			if !ok {
				return fmt.Errorf("%s: bad administrative state key %q; move the store away to start afresh", s.path, k)
			}
			a, err := handlespace.ParseAdmin(string(v))
			if err != nil || a == handlespace.AdminAuto {
				return fmt.Errorf("%s: element %s of %s: bad administrative state %q; move the store away to start afresh", s.path, handlespace.IDString(id), pool, v)
			}
			items = append(items, item{pool, id, a})
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, it := range items {
		f(it.pool, it.id, it.a)
	}
	return nil
}

// PruneAdmins removes, in one transaction, the stored administrative
// states for which keep returns false, and returns how many it removed.
// When keep refuses none it writes nothing (no sync at each reload).
func (s *Store) PruneAdmins(keep func(pool string, id uint32) bool) (int, error) {
	var drop [][]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAdmin).ForEach(func(k, _ []byte) error {
			if pool, id, ok := splitElementKey(k); !ok || !keep(pool, id) {
				drop = append(drop, bytes.Clone(k)) // k is valid only in the transaction
			}
			return nil
		})
	})
	if err == nil && len(drop) > 0 {
		err = s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketAdmin)
			for _, k := range drop {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return 0, fmt.Errorf("%s: prune administrative states: %v", s.path, err)
	}
	return len(drop), nil
}
