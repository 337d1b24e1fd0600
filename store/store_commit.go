package store

import (
	"fmt"

	"github.com/poolnsd/poolnsd/handlespace"
	bolt "go.etcd.io/bbolt"
)

// Write is one write of Store.Commit: a put of Elem into Pool when Elem
// is set, else a delete of element ID of Pool.
type Write struct {
	Pool string
	Elem *handlespace.Element
	ID   uint32
}

// Commit writes ops, in order, in one transaction and returns once it is
// on disk: one fsync however many operations, which is what group commit
// builds on. On error nothing of ops is written.
func (s *Store) Commit(ops []Write) error {
	if len(ops) == 0 {
		return nil
	}
	type kv struct{ k, v []byte }
	enc := make([]kv, len(ops))
	for i, op := range ops {
		pool := normPool(op.Pool)
		if op.Elem == nil {
			enc[i] = kv{elementKey(pool, op.ID), nil}
			continue
		}
		v, err := encodeElement(op.Elem)
		if err != nil {
			return fmt.Errorf("%s: element %s: %v", s.path, handlespace.IDString(op.Elem.ID), err)
		}
		enc[i] = kv{elementKey(pool, op.Elem.ID), v}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, adm, hb := tx.Bucket(bucketElements), tx.Bucket(bucketAdmin), tx.Bucket(bucketHealth)
		for _, e := range enc {
			var err error
			if e.v == nil {
				// A removed element's administrative state and health go
				// with it.
				if err = adm.Delete(e.k); err == nil {
					if err = hb.Delete(e.k); err == nil {
						err = b.Delete(e.k)
					}
				}
			} else {
				err = b.Put(e.k, e.v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: commit %d element writes: %v", s.path, len(ops), err)
	}
	return nil
}
