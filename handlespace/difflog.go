package handlespace

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace/internal/ptree"
)

// The change log of a pool's views: DiffElements without reading the
// trees.
//
// Each view made by update holds a link of a chain: the writer, when it
// makes the next view, puts into the previous view's link the changes
// (the elemChanges update was given: each changed ID, its old and its new
// version) and then points the link to the next one. A reader that holds
// an old view and compares it with a newer one of the same pool follows
// the links from the old view's to the new view's and composes their
// changes: O(d log d) for d changes, touching neither tree. The walk of
// both trees (ptree.Diff) reads each changed leaf of both versions, some
// 20 cache lines a change at 1 000 000 elements (bench/RESULTS.md,
// diff11); the log reads the changes themselves, in arrays.
//
// The chain is forward: an old view reaches every change made after it,
// never one before, so a view nobody holds is collected with its link.
// So that a view held for long (a metrics cache nobody scrapes) does not
// keep every change made since, the writer cuts the chain behind a window
// of logWindow changes: a link behind it points to cutLog, and a reader
// whose view is that old walks the trees instead. A view made another way
// (a new pool, a zone reload) starts a new chain; a diff between views of
// two chains walks the trees too.

// elemLog is one view's link of its pool's chain.
type elemLog struct {
	// next is the next view's link once the writer made it (nil until
	// then), or cutLog. changes is set before next and never after.
	next    atomic.Pointer[elemLog]
	changes []elemChange // from this link's view to the next's: sorted by ID, one per element

	// The writer's own (guarded by the handlespace's lock), in the
	// newest link: the oldest link not cut, and the changes from it to
	// this one.
	tail  *elemLog
	inWin int
}

// cutLog is the next of a link behind the window.
var cutLog = &elemLog{}

// logWindow is how many changes a pool's chain keeps reachable from an old
// view: at 1 000 000 elements about 4 s of 1 000 registrations a second;
// none below 256 elements, whose trees are cheap to walk. A change keeps
// its old version of the element (224 bytes, and its readers' memo)
// alive while in the window: at most about 1.6 bytes per element of the
// pool.
func logWindow(n int) int { return n / 256 }

// extend returns the link of the view made from l's with changes (not
// kept: copied) in a pool of n elements, linking l to it; l nil: a new
// chain.
func (l *elemLog) extend(changes []elemChange, n int) *elemLog {
	nl := &elemLog{}
	nl.tail = nl
	win := logWindow(n)
	if l == nil || l.next.Load() != nil || len(changes) > win {
		// A new chain: l is not its pool's newest link (which the
		// writer never makes), or the changes would not stay in the
		// window anyway (a bulk load).
		return nl
	}
	l.changes = slices.Clone(changes)
	l.next.Store(nl)
	// Only the newest link keeps a tail: an older one's would keep the
	// link behind the window it pointed to, that one's the link behind
	// that, and so on back to the chain's start.
	nl.tail, nl.inWin = l.tail, l.inWin+len(changes)
	l.tail = nil
	for nl.inWin > win {
		t := nl.tail
		nx := t.next.Load()
		t.next.Store(cutLog)
		nl.tail, nl.inWin = nx, nl.inWin-len(t.changes)
	}
	return nl
}

// diffScratch is a reader's working memory of a diff over several links.
type diffScratch struct {
	runs [][]elemChange
	all  []seqChange
}

// seqChange is a change and where it comes in the links' order: its ID
// above, its index below, so that sorting by key sorts by ID and keeps
// an element's changes in order.
type seqChange struct {
	key      uint64
	old, new *Element
}

var diffScratches = sync.Pool{New: func() any { return new(diffScratch) }}

// diffLogged is DiffElements by the log: it reports false, having called
// nothing, when v's link is not ahead of old's on one chain within the
// window.
func diffLogged(old, v *PoolView, f func(was, now *Element)) bool {
	if old.log == nil || v.log == nil || v.Gen < old.Gen {
		return false
	}
	if old.log == v.log {
		return true
	}
	// Each link is a view, and a view's Gen is one more than its
	// predecessor's: v is at most this many links ahead.
	steps := v.Gen - old.Gen
	l := old.log
	nx := l.next.Load()
	if nx == v.log {
		// One link (the monitor after each commit): its changes as
		// they are.
		for i := range l.changes {
			if c := &l.changes[i]; c.old != c.new {
				f(c.old, c.new)
			}
		}
		return true
	}
	sc := diffScratches.Get().(*diffScratch)
	defer diffScratches.Put(sc)
	runs, total := sc.runs[:0], 0
	defer func() { clear(runs); sc.runs = runs[:0] }()
	for l != v.log {
		if nx == nil || nx == cutLog || steps == 0 {
			return false
		}
		runs = append(runs, l.changes)
		total += len(l.changes)
		steps--
		l, nx = nx, nx.next.Load()
	}
	// The links' changes sorted by ID, each element's in order: its
	// version in old is its first change's old, in v its last's new.
	all := slices.Grow(sc.all[:0], total)
	for _, r := range runs {
		for _, c := range r {
			all = append(all, seqChange{uint64(c.id)<<32 | uint64(len(all)), c.old, c.new})
		}
	}
	slices.SortFunc(all, func(a, b seqChange) int { return cmp.Compare(a.key, b.key) })
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].key>>32 == all[i].key>>32 {
			j++
		}
		if was, now := all[i].old, all[j-1].new; was != now {
			f(was, now)
		}
		i = j
	}
	clear(all)
	sc.all = all[:0]
	return true
}

// diffWalk is DiffElements by walking both trees.
func diffWalk(old, v *PoolView, f func(was, now *Element)) {
	var a, b tree
	if old != nil {
		a = old.elems
	}
	if v != nil {
		b = v.elems
	}
	ptree.Diff(&a, &b, f)
}
