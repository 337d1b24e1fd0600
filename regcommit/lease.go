package regcommit

import (
	"errors"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/store"
)

// slot is the wheel's resolution: a lease leaves within one slot (and
// the sweep's period, serve's expireEvery) after it ends.
const slot = 100 * time.Millisecond

// wheel finds the leases that end by a time: buckets of elements by the
// slot their lease ends in. A refresh adds a new entry and leaves the old
// one, which the sweep skips (the element's lease no longer ends then), so
// an element has at most a few entries at once. due walks the slots from
// the last it swept to now, so a sweep costs the slots passed (one, when
// it runs every slot), not the number of buckets.
//
// An entry names its pool by a number of the wheel's (pools): 8 bytes and
// no pointer, so that the entries of a million leases (one each at least)
// are 8 MB the garbage collector does not scan, where a pool name's string
// made them 24 MB of pointers to mark.
type wheel struct {
	b    map[int64][]leaseRef
	last int64 // the last slot swept; 0 before the first sweep
	// overdue holds what was added for a slot already swept (an expiry
	// the store could not record, to try again).
	overdue []leaseRef

	pools  []string          // by number
	poolNo map[string]uint32 // pools' inverse
}

type leaseRef struct {
	pool uint32 // in wheel.pools
	id   uint32
}

func newWheel() wheel { return wheel{b: map[int64][]leaseRef{}, poolNo: map[string]uint32{}} }

// ref returns the entry of element id of pool, numbering the pool if new.
func (w *wheel) ref(pool string, id uint32) leaseRef {
	n, ok := w.poolNo[pool]
	if !ok {
		n = uint32(len(w.pools))
		w.pools = append(w.pools, pool)
		w.poolNo[pool] = n
	}
	return leaseRef{pool: n, id: id}
}

// pool returns the name of an entry's pool.
func (w *wheel) pool(r leaseRef) string { return w.pools[r.pool] }

// slotOf is the slot a time is at the end of: ceil(t / slot).
func slotOf(t time.Time) int64 {
	n := t.UnixNano()
	s := n / int64(slot)
	if n%int64(slot) > 0 {
		s++ // swept once the whole slot has passed
	}
	return s
}

func (w *wheel) add(pool string, id uint32, expires time.Time) {
	s := slotOf(expires)
	if w.last != 0 && s <= w.last {
		w.overdue = append(w.overdue, w.ref(pool, id)) // swept past: the next sweep takes it
		return
	}
	w.b[s] = append(w.b[s], w.ref(pool, id))
}

// due removes and returns the entries of the buckets that end at or
// before now.
func (w *wheel) due(now time.Time) []leaseRef {
	out := w.overdue
	w.overdue = nil
	cut := now.UnixNano() / int64(slot)
	if w.last == 0 || cut-w.last > int64(len(w.b)) {
		// The first sweep, or one after a long pause (or a clock jump):
		// fewer buckets than slots to walk.
		for s, refs := range w.b {
			if s <= cut {
				out = append(out, refs...)
				delete(w.b, s)
			}
		}
	} else {
		for s := w.last + 1; s <= cut; s++ {
			if refs, ok := w.b[s]; ok {
				out = append(out, refs...)
				delete(w.b, s)
			}
		}
	}
	if cut > w.last {
		w.last = cut
	}
	return out
}

// doSweep removes the elements whose lease ended at or before now. It runs
// on the committer.
func (r *Committer) doSweep(now time.Time) int {
	refs := r.leases.due(now)
	if len(refs) == 0 {
		return 0
	}
	v := r.hs.View()
	type exp struct {
		pool  string
		id    uint32
		owner string
		label string
	}
	var cands []exp
	var groups [][]handlespace.Op
	seen := map[leaseRef]bool{}
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		pool := r.leases.pool(ref)
		pv := poolView(v, pool)
		if pv == nil {
			continue
		}
		e := pv.Element(ref.id)
		if e == nil || e.Static || e.Expires.Time().IsZero() || e.Expires.Time().After(now) {
			continue // gone, or refreshed since
		}
		cands = append(cands, exp{pool, ref.id, e.Owner.String(), e.Label.String()})
		groups = append(groups, []handlespace.Op{{Pool: pool, ID: ref.id, ExpiredBy: now}})
	}
	if len(groups) == 0 {
		return 0
	}
	errs := r.hs.Apply(groups, func(ok []bool) error {
		var ops []store.Write
		for i, c := range cands {
			if ok[i] {
				ops = append(ops, store.Write{Pool: c.pool, ID: c.id})
			}
		}
		if len(ops) == 0 {
			return nil
		}
		r.stats.Commits++
		return r.store.Commit(ops)
	})
	n := 0
	for i, err := range errs {
		c := cands[i]
		if err != nil {
			if errors.Is(err, handlespace.ErrCommit) {
				// The store failed: the elements stay (in the answers and
				// the store) and the next sweep tries again.
				r.leases.add(c.pool, c.id, now)
				r.log.Error("expired registration not removed from the store; retrying", "pool", c.pool,
					"element", handlespace.IDString(c.id), "err", err.Error())
			}
			continue
		}
		n++
		r.perOwner[c.owner]--
		if r.perOwner[c.owner] <= 0 {
			delete(r.perOwner, c.owner)
		}
		r.perPool[c.pool]--
		r.stats.Elements--
		if r.perPool[c.pool] <= 0 {
			delete(r.perPool, c.pool)
		}
		r.log.Info("registration expired", "pool", c.pool, "element", handlespace.IDString(c.id), "name", c.label)
	}
	r.stats.Expired += uint64(n)
	r.publishStats()
	return n
}
