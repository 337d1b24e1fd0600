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
type wheel struct {
	b    map[int64][]leaseRef
	last int64 // the last slot swept; 0 before the first sweep
	// overdue holds what was added for a slot already swept (an expiry
	// the store could not record, to try again).
	overdue []leaseRef
}

type leaseRef struct {
	pool string
	id   uint32
}

func newWheel() wheel { return wheel{b: map[int64][]leaseRef{}} }

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
		w.overdue = append(w.overdue, leaseRef{pool, id}) // swept past: the next sweep takes it
		return
	}
	w.b[s] = append(w.b[s], leaseRef{pool, id})
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
		ref   leaseRef
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
		pv := poolView(v, ref.pool)
		if pv == nil {
			continue
		}
		e := pv.Element(ref.id)
		if e == nil || e.Static || e.Expires.IsZero() || e.Expires.After(now) {
			continue // gone, or refreshed since
		}
		cands = append(cands, exp{ref, e.Owner, e.Label})
		groups = append(groups, []handlespace.Op{{Pool: ref.pool, ID: ref.id, ExpiredBy: now}})
	}
	if len(groups) == 0 {
		return 0
	}
	errs := r.hs.Apply(groups, func(ok []bool) error {
		var ops []store.Write
		for i, c := range cands {
			if ok[i] {
				ops = append(ops, store.Write{Pool: c.ref.pool, ID: c.ref.id})
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
				r.leases.add(c.ref.pool, c.ref.id, now)
				r.log.Error("expired registration not removed from the store; retrying", "pool", c.ref.pool,
					"element", handlespace.IDString(c.ref.id), "err", err.Error())
			}
			continue
		}
		n++
		r.perOwner[c.owner]--
		if r.perOwner[c.owner] <= 0 {
			delete(r.perOwner, c.owner)
		}
		r.perPool[c.ref.pool]--
		r.stats.Elements--
		if r.perPool[c.ref.pool] <= 0 {
			delete(r.perPool, c.ref.pool)
		}
		r.log.Info("registration expired", "pool", c.ref.pool, "element", handlespace.IDString(c.ref.id), "name", c.label)
	}
	r.stats.Expired += uint64(n)
	r.publishStats()
	return n
}
