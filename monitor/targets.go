package monitor

import (
	"github.com/poolnsd/poolnsd/handlespace"
	"github.com/poolnsd/poolnsd/probe"
)

// The targets' bookkeeping: what sync (and syncSamples) last gave a
// prober, per pool, and how a new view of a pool changes it. A change of
// d elements costs O(d log n) in a pool of n (handlespace.DiffElements
// reads only what the change touched), and the prober is told only of the
// targets that changed (probe.Scheduler.Change): a registration, a
// refresh or a health change in a pool of a million elements, probed or
// not, costs what it costs in a pool of ten. A pool whose spec changed
// (its probe, its policy) is read whole, since every element's target may
// have changed with it.

// poolTargets are the targets of one pool view, by element ID.
type poolTargets struct {
	view *handlespace.PoolView
	byID map[uint32]poolTarget
}

// poolTarget is a target and the element it was made from.
type poolTarget struct {
	t    probe.Target
	elem *handlespace.Element
}

// changeKind is what a targetChange does.
type changeKind uint8

const (
	targetAdded changeKind = iota // new, or probed differently (Key, Addr, Name or Spec): given to the prober
	targetElem                    // probed as before; its element is newer
	targetGone                    // no longer probed
)

// targetChange is one change of a pool's targets.
type targetChange struct {
	kind changeKind
	pool string
	pt   poolTarget
}

// targetFunc returns the target of element e of pool view pv, if it has
// one; old is its current target, if any (ok), whose strings it reuses
// when they fit.
type targetFunc func(pv *handlespace.PoolView, e *handlespace.Element, old probe.Target, ok bool) (probe.Target, bool)

// sameTarget reports whether two targets probe the same thing (their
// Health, a start value only, aside).
func sameTarget(a, b probe.Target) bool {
	return a.Key == b.Key && a.Addr == b.Addr && a.Name == b.Name && a.Spec == b.Spec && a.Source == b.Source
}

// update brings p, the targets of a pool's previous view (zero for a new
// pool), to view pv and appends what changed to out. It calls tick after
// each element it looks at (the sync's pieces, internal/piece).
func (p *poolTargets) update(pv *handlespace.PoolView, of targetFunc, out []targetChange, tick func()) []targetChange {
	src, dst := p.byID, p.byID
	full := p.view == nil || p.view.Name != pv.Name || p.view.Spec != pv.Spec
	if full {
		dst = make(map[uint32]poolTarget, len(src))
	}
	see := func(id uint32, e *handlespace.Element) {
		tick()
		old, had := src[id]
		var t probe.Target
		ok := false
		if e != nil {
			t, ok = of(pv, e, old.t, had)
		}
		switch {
		case !ok:
			if had && !full { // (a full read finds the gone ones below)
				delete(dst, id)
				out = append(out, targetChange{targetGone, pv.Name, old})
			}
		case had && sameTarget(old.t, t):
			np := poolTarget{t, e}
			dst[id] = np
			if old.elem != e || full { // (full: the policy, and nearest, may have changed)
				out = append(out, targetChange{targetElem, pv.Name, np})
			}
		default:
			np := poolTarget{t, e}
			dst[id] = np
			out = append(out, targetChange{targetAdded, pv.Name, np})
		}
	}
	if full {
		for e := range pv.Range() {
			see(e.ID, e)
		}
		for id, old := range src {
			tick()
			if _, ok := dst[id]; !ok {
				out = append(out, targetChange{targetGone, pv.Name, old})
			}
		}
	} else {
		handlespace.DiffElements(p.view, pv, func(was, now *handlespace.Element) {
			if now != nil {
				see(now.ID, now)
			} else {
				see(was.ID, nil)
			}
		})
	}
	p.view, p.byID = pv, dst
	return out
}

// gone appends a removal of every target of p (its pool is gone).
func (p *poolTargets) gone(name string, out []targetChange) []targetChange {
	for _, pt := range p.byID {
		out = append(out, targetChange{targetGone, name, pt})
	}
	return out
}
