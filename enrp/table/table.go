package table

import (
	"cmp"
	"slices"
	"time"

	"github.com/poolnsd/poolnsd/enrp/placement"
	"github.com/poolnsd/poolnsd/enrp/wire"
	"github.com/poolnsd/poolnsd/handlespace"
)

// Key names an element: its pool (lower-case FQDN) and identifier.
type Key struct {
	Pool string
	ID   uint32
}

// CmpKey orders keys by pool, then identifier.
func CmpKey(a, b Key) int {
	if c := cmp.Compare(a.Pool, b.Pool); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// KeysInOrder returns the keys of m in CmpKey's order.
func KeysInOrder(m map[Key]bool) []Key {
	out := make([]Key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, CmpKey)
	return out
}

// Entry is what the state machine knows of one element: the element (never
// modified once here: changes replace it), its pool's policy, its ownership
// generation and its terms of its home's checksum and digest.
type Entry struct {
	Key
	Policy string
	Elem   *handlespace.Element // Elem.Home is the entry's home
	Gen    uint32
	Sum    uint16 // ElementSum(pool, id)
	Hash   uint64 // ContentHash
	// Heard: for a zone-file element, its state came from its home (or
	// this registrar is its home).
	Heard bool
	// Settle: for a zone-file element whose home changed because the
	// live set grew, until when a word from its new home weaker than this
	// registrar's knowledge does not replace its state (the newcomer's
	// own may be stale; its old home hands the current one back to it).
	Settle time.Time
	// Changed: when the entry last changed in what a peer is sent of it
	// (its element, policy or generation; for a zone-file element not its
	// home, which each registrar computes from its live set); a put of
	// the same keeps the time. A push sends a peer met again only the
	// zone-file elements changed since it was lost (see enrp's pushOwn).
	Changed time.Time
}

// Home is the entry's home; Static reports whether it is of a zone file.
func (en *Entry) Home() uint32 { return en.Elem.Home }
func (en *Entry) Static() bool { return en.Elem.Static }

// NewEntry returns the entry of element e of pool, with its terms of the
// checksum and digest.
func NewEntry(pool, policy string, e *handlespace.Element, gen uint32) *Entry {
	return &Entry{Key: Key{pool, e.ID}, Policy: policy, Elem: e, Gen: gen,
		Sum: wire.ElementSum(pool, e.ID), Hash: wire.ContentHash(pool, policy, e, gen)}
}

// ownership is the running checksum and digest of the elements of one
// home.
type ownership struct {
	acc   wire.SumAcc
	count uint32
	hash  uint64
}

// Table is the state machine's view of the handlespace, by element, with
// the ownership sums of every home kept up to date.
type Table struct {
	m     map[Key]*Entry
	own   map[uint32]*ownership
	tombs map[Key]Tomb
	now   func() time.Time // for Entry.Changed
}

// Tomb remembers a registration that was deleted (deregistered), until
// its lease would have ended, so that a stale copy of it (from a registrar
// that restarts with an old store, a peer's old table, a takeover made on
// the other side of a partition) does not bring it back. A copy brings it
// back only if its lease ends later than the deleted one's: a new
// registration, made after the deletion.
type Tomb struct {
	Expires time.Time // the deleted registration's lease end
	until   time.Time // when the tomb is forgotten
	// at is when the registration was deleted, and en what it was,
	// for a deletion made here (a deregistration): a peer that this
	// registrar meets again is sent it with the push (enrp's pushOwn), in
	// case the DEL_PE of the time was lost.
	at time.Time
	en *Entry
}

// maxTomb bounds how long a deletion is remembered.
const maxTomb = 24 * time.Hour

// New returns an empty table; now stamps the entries' Changed.
func New(now func() time.Time) *Table {
	return &Table{m: map[Key]*Entry{}, own: map[uint32]*ownership{}, tombs: map[Key]Tomb{}, now: now}
}

// Bury records the deletion of the registration of k whose lease ends at
// expires.
func (t *Table) Bury(k Key, expires, now time.Time) {
	until := expires
	if until.IsZero() || until.Sub(now) > maxTomb {
		until = now.Add(maxTomb)
	}
	if until.After(now) {
		t.tombs[k] = Tomb{Expires: expires, until: until}
	}
}

// BuryHere records the deletion here of en's registration (see Bury),
// remembering it for the pushes (DeletedSince).
func (t *Table) BuryHere(en *Entry, now time.Time) {
	t.Bury(en.Key, en.Elem.Expires.Time(), now)
	if tb, ok := t.tombs[en.Key]; ok {
		tb.at, tb.en = now, en
		t.tombs[en.Key] = tb
	}
}

// TombOf returns the tomb of k if it is still in force.
func (t *Table) TombOf(k Key, now time.Time) (Tomb, bool) {
	tb, ok := t.tombs[k]
	if ok && !now.Before(tb.until) {
		delete(t.tombs, k)
		return Tomb{}, false
	}
	return tb, ok
}

// Unbury forgets the tomb of k (registered again after its deletion).
func (t *Table) Unbury(k Key) { delete(t.tombs, k) }

// DeletedHere returns, sorted by key, what the registrations were whose
// deletion here (BuryHere) was at since or later and whose tomb is
// still in force at now.
func (t *Table) DeletedHere(since, now time.Time) []*Entry {
	var keys []Key
	for k, tb := range t.tombs {
		if tb.en != nil && !tb.at.Before(since) && now.Before(tb.until) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, CmpKey)
	out := make([]*Entry, len(keys))
	for i, k := range keys {
		out[i] = t.tombs[k].en
	}
	return out
}

// SweepTombs forgets the tombs whose time is up.
func (t *Table) SweepTombs(now time.Time) {
	for k, tb := range t.tombs {
		if !now.Before(tb.until) {
			delete(t.tombs, k)
		}
	}
}

// Get returns the entry with key k, nil if none.
func (t *Table) Get(k Key) *Entry { return t.m[k] }

func (t *Table) add(en *Entry) {
	o := t.own[en.Home()]
	if o == nil {
		o = &ownership{}
		t.own[en.Home()] = o
	}
	o.acc.Add(en.Sum)
	o.count++
	o.hash += en.Hash
}

func (t *Table) sub(en *Entry) {
	o := t.own[en.Home()]
	o.acc.Sub(en.Sum)
	o.count--
	o.hash -= en.Hash
	if o.count == 0 {
		delete(t.own, en.Home())
	}
}

// Put inserts or replaces the entry with en's key.
func (t *Table) Put(en *Entry) {
	en.Changed = t.now()
	if old := t.m[en.Key]; old != nil {
		e := en.Elem
		if en.Static() && old.Static() && old.Home() != en.Home() {
			c := *en.Elem
			c.Home, e = old.Home(), &c
		}
		if old.Gen == en.Gen && old.Policy == en.Policy && wire.SameElement(old.Elem, e) {
			en.Changed = old.Changed
		}
		t.sub(old)
	}
	t.m[en.Key] = en
	t.add(en)
}

// Del removes the entry with key k, if any, and returns it.
func (t *Table) Del(k Key) *Entry {
	old := t.m[k]
	if old != nil {
		t.sub(old)
		delete(t.m, k)
	}
	return old
}

// SumWith returns the ownership checksum of home's elements with the
// terms join added and leave taken away (placement.LiveLag's guesses at
// a peer's claim).
func (t *Table) SumWith(home uint32, join, leave []uint16) uint16 {
	var acc wire.SumAcc
	if o := t.own[home]; o != nil {
		acc = o.acc
	}
	for _, v := range join {
		acc.Add(v)
	}
	for _, v := range leave {
		acc.Sub(v)
	}
	return acc.Checksum()
}

// Statics yields the zone-file elements, as placement.LiveLag takes them.
func (t *Table) Statics(yield func(placement.Static) bool) {
	for _, en := range t.m {
		if en.Static() && !yield(placement.Static{Pool: en.Pool, ID: en.ID, Sum: en.Sum, Home: en.Home()}) {
			return
		}
	}
}

// Registered returns the keys of home's registered elements (not of a
// zone file).
func (t *Table) Registered(home uint32) map[Key]bool {
	out := map[Key]bool{}
	for k, en := range t.m {
		if en.Home() == home && !en.Static() {
			out[k] = true
		}
	}
	return out
}

// OwnsRegistered reports whether home owns registered elements.
func (t *Table) OwnsRegistered(home uint32) bool {
	for _, en := range t.m {
		if en.Home() == home && !en.Static() {
			return true
		}
	}
	return false
}

// Claim returns the ownership checksum and digest of home's elements.
func (t *Table) Claim(home uint32) (uint16, wire.Digest) {
	o := t.own[home]
	if o == nil {
		return wire.SumAcc{}.Checksum(), wire.Digest{}
	}
	return o.acc.Checksum(), wire.Digest{Count: o.count, Hash: o.hash}
}

// Keys returns the keys of the entries that keep accepts, sorted.
func (t *Table) Keys(keep func(*Entry) bool) []Key {
	var out []Key
	for k, en := range t.m {
		if keep(en) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, CmpKey)
	return out
}

// WithHome returns a copy of e homed at home.
func WithHome(e *handlespace.Element, home uint32) *handlespace.Element {
	c := e.Clone()
	c.Home = home
	return c
}

// Supersedes reports whether a copy of an element (e, of ownership
// generation gen) beats the copy en. Between copies of two registrations
// (lease ends more than the skew apart) the later one wins, whatever
// their generations: a registration made again after a deregistration on
// one side of a partition beats the old one taken over on the other.
// Between copies of one registration the ownership claims decide (wins).
// Lease ends are absolute (wire.LeaseEnd): both holders decide alike.
func Supersedes(e *handlespace.Element, gen uint32, en *Entry) bool {
	switch {
	case placement.Later(e.Expires.Time(), en.Elem.Expires.Time()):
		return true
	case placement.Later(en.Elem.Expires.Time(), e.Expires.Time()):
		return false
	}
	return placement.Wins(gen, e.Home, en.Gen, en.Home())
}

// ChangeOf says what a transfer changed of an element, was before and
// now after (wire.ChangeOf): "" when nothing, or only its lease end by
// less than placement.LeaseSkew (an older sender counts from arrival).
func ChangeOf(was, now *Entry) string {
	switch {
	case now == nil:
		return ""
	case was == nil:
		return "new"
	}
	return wire.ChangeOf(was.Elem, now.Elem, was.Gen, now.Gen, placement.LeaseSkew)
}
