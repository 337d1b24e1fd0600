package enrp

import (
	"cmp"
	"slices"
	"time"

	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// key names an element: its pool (lower-case FQDN) and identifier.
type key struct {
	pool string
	id   uint32
}

func cmpKey(a, b key) int {
	if c := cmp.Compare(a.pool, b.pool); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// keysInOrder returns the keys of m in cmpKey's order.
func keysInOrder(m map[key]bool) []key {
	out := make([]key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, cmpKey)
	return out
}

// entry is what the state machine knows of one element: the element (never
// modified once here: changes replace it), its pool's policy, its ownership
// generation and its terms of its home's checksum and digest.
type entry struct {
	key
	policy string
	e      *handlespace.Element // e.Home is the entry's home
	gen    uint32
	sum    uint16 // ElementSum(pool, id)
	hash   uint64 // ContentHash
	// heard: for a zone-file element, its state came from its home (or
	// this registrar is its home).
	heard bool
	// settle: for a zone-file element whose home changed because the
	// live set grew, until when a word from its new home weaker than this
	// registrar's knowledge does not replace its state (the newcomer's
	// own may be stale; its old home hands the current one back to it).
	settle time.Time
	// changed: when the entry last changed in what a peer is sent of it
	// (its element, policy or generation; for a zone-file element not its
	// home, which each registrar computes from its live set); a put of
	// the same keeps the time. A push sends a peer met again only the
	// zone-file elements changed since it was lost (see pushOwn).
	changed time.Time
}

func (en *entry) home() uint32 { return en.e.Home }
func (en *entry) static() bool { return en.e.Static }

func newEntry(pool, policy string, e *handlespace.Element, gen uint32) *entry {
	return &entry{key: key{pool, e.ID}, policy: policy, e: e, gen: gen,
		sum: wire.ElementSum(pool, e.ID), hash: wire.ContentHash(pool, policy, e, gen)}
}

// ownership is the running checksum and digest of the elements of one
// home.
type ownership struct {
	acc   wire.SumAcc
	count uint32
	hash  uint64
}

// table is the state machine's view of the handlespace, by element, with
// the ownership sums of every home kept up to date.
type table struct {
	m     map[key]*entry
	own   map[uint32]*ownership
	tombs map[key]tomb
	now   func() time.Time // for entry.changed
}

// tomb remembers a registration that was deleted (deregistered), until
// its lease would have ended, so that a stale copy of it (from a registrar
// that restarts with an old store, a peer's old table, a takeover made on
// the other side of a partition) does not bring it back. A copy brings it
// back only if its lease ends later than the deleted one's: a new
// registration, made after the deletion.
type tomb struct {
	expires time.Time // the deleted registration's lease end
	until   time.Time // when the tomb is forgotten
	// at is when the registration was deleted, and en what it was,
	// for a deletion made here (a deregistration): a peer that this
	// registrar meets again is sent it with the push (pushOwn), in
	// case the DEL_PE of the time was lost.
	at time.Time
	en *entry
}

// maxTomb bounds how long a deletion is remembered.
const maxTomb = 24 * time.Hour

func newTable(now func() time.Time) *table {
	return &table{m: map[key]*entry{}, own: map[uint32]*ownership{}, tombs: map[key]tomb{}, now: now}
}

// bury records the deletion of the registration of k whose lease ends at
// expires.
func (t *table) bury(k key, expires, now time.Time) {
	until := expires
	if until.IsZero() || until.Sub(now) > maxTomb {
		until = now.Add(maxTomb)
	}
	if until.After(now) {
		t.tombs[k] = tomb{expires: expires, until: until}
	}
}

// buryHere records the deletion here of en's registration (see bury),
// remembering it for the pushes of pushOwn.
func (t *table) buryHere(en *entry, now time.Time) {
	t.bury(en.key, en.e.Expires, now)
	if tb, ok := t.tombs[en.key]; ok {
		tb.at, tb.en = now, en
		t.tombs[en.key] = tb
	}
}

// tombOf returns the tomb of k if it is still in force.
func (t *table) tombOf(k key, now time.Time) (tomb, bool) {
	tb, ok := t.tombs[k]
	if ok && !now.Before(tb.until) {
		delete(t.tombs, k)
		return tomb{}, false
	}
	return tb, ok
}

// sweepTombs forgets the tombs whose time is up.
func (t *table) sweepTombs(now time.Time) {
	for k, tb := range t.tombs {
		if !now.Before(tb.until) {
			delete(t.tombs, k)
		}
	}
}

func (t *table) get(k key) *entry { return t.m[k] }

func (t *table) add(en *entry) {
	o := t.own[en.home()]
	if o == nil {
		o = &ownership{}
		t.own[en.home()] = o
	}
	o.acc.Add(en.sum)
	o.count++
	o.hash += en.hash
}

func (t *table) sub(en *entry) {
	o := t.own[en.home()]
	o.acc.Sub(en.sum)
	o.count--
	o.hash -= en.hash
	if o.count == 0 {
		delete(t.own, en.home())
	}
}

// put inserts or replaces the entry with en's key.
func (t *table) put(en *entry) {
	en.changed = t.now()
	if old := t.m[en.key]; old != nil {
		e := en.e
		if en.static() && old.static() && old.home() != en.home() {
			c := *en.e
			c.Home, e = old.home(), &c
		}
		if old.gen == en.gen && old.policy == en.policy && wire.SameElement(old.e, e) {
			en.changed = old.changed
		}
		t.sub(old)
	}
	t.m[en.key] = en
	t.add(en)
}

// del removes the entry with key k, if any, and returns it.
func (t *table) del(k key) *entry {
	old := t.m[k]
	if old != nil {
		t.sub(old)
		delete(t.m, k)
	}
	return old
}

// claim returns the ownership checksum and digest of home's elements.
func (t *table) claim(home uint32) (uint16, wire.Digest) {
	o := t.own[home]
	if o == nil {
		return wire.SumAcc{}.Checksum(), wire.Digest{}
	}
	return o.acc.Checksum(), wire.Digest{Count: o.count, Hash: o.hash}
}

// keys returns the keys of the entries that keep accepts, sorted.
func (t *table) keys(keep func(*entry) bool) []key {
	var out []key
	for k, en := range t.m {
		if keep(en) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, cmpKey)
	return out
}

// withHome returns a copy of en's element homed at home.
func withHome(e *handlespace.Element, home uint32) *handlespace.Element {
	c := e.Clone()
	c.Home = home
	return c
}
