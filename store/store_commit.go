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

// Commit writes ops, in order, as one batch and returns once it is on
// disk: one write and one fsync of the element log however many
// operations and however large the store, which is what group commit
// builds on. On error nothing of ops is written. A removal also removes
// the element's administrative state and last known health.
func (s *Store) Commit(ops []Write) error {
	if len(ops) == 0 {
		return nil
	}
	x := recordEncoders.Get().(*recordEncoder)
	defer x.put()
	enc, err := x.encode(ops)
	if err != nil {
		return fmt.Errorf("%s: %v", s.path, err)
	}
	var dels [][]byte
	for _, w := range enc {
		if w.v == nil {
			dels = append(dels, w.k)
		}
	}
	if err := s.log.appendBatch(enc); err != nil {
		return fmt.Errorf("%s: commit %d element writes: %v", s.path, len(ops), err)
	}
	if len(dels) > 0 {
		if err := s.dropStates(dels); err != nil {
			// The removals are durable; what is left is a state without
			// its element, which the next start's replay removes.
			return fmt.Errorf("%s: remove the states of %d removed elements: %v", s.path, len(dels), err)
		}
	}
	return nil
}

// dropStates removes the administrative states and healths stored under
// keys, in one transaction if there are any.
func (s *Store) dropStates(keys [][]byte) error {
	some := false
	if err := s.db.View(func(tx *bolt.Tx) error {
		adm, hb := tx.Bucket(bucketAdmin), tx.Bucket(bucketHealth)
		for _, k := range keys {
			if adm.Get(k) != nil || hb.Get(k) != nil {
				some = true
				return nil
			}
		}
		return nil
	}); err != nil || !some {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		adm, hb := tx.Bucket(bucketAdmin), tx.Bucket(bucketHealth)
		for _, k := range keys {
			if err := adm.Delete(k); err != nil {
				return err
			}
			if err := hb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
