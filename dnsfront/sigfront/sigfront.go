package sigfront

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/poolnsd/poolnsd/dnssec"
)

// Slots is the number of entries of each table (128 KiB of pointers
// each): several times the RRsets a busy zone's pools answer from, so
// that few collide (bench/dnssec.sh's 100 pools of ten answer about 5 600
// SRV, A and target RRsets).
const Slots = 16384

// MaxRecords is the most records of an answer that a table keeps.
const MaxRecords = 64

// rrFixedLen is the fixed part of a record after its owner: type, class,
// TTL, RDLENGTH.
const rrFixedLen = 10

// Signed is an RRset's signatures ready to copy into a reply. It is never
// changed once made.
type Signed struct {
	// Sigs are the signatures, as the signer made them.
	Sigs *dnssec.Sigs
	// Wire is the packed records (a target's glue records, then the
	// RRSIGs), each owner a two-byte compression pointer.
	Wire []byte
	// Count is the number of records in Wire.
	Count int
	// Until is when the signatures are no longer fresh
	// (Sigs.FreshUntil), in Unix nanoseconds: the table's times are Unix
	// nanoseconds, compared as integers.
	Until int64

	owners []uint16 // the offset of each owner in Wire
}

// NewSigned returns the Signed of sigs whose records, each owner a
// two-byte compression pointer, wire holds (Sigs.AppendWire with a
// pointer, after the glue records for a target).
func NewSigned(sigs *dnssec.Sigs, wire []byte) *Signed {
	g := &Signed{Sigs: sigs, Wire: wire, Until: sigs.FreshUntil().UnixNano()}
	for off := 0; off+2+rrFixedLen <= len(wire); {
		g.owners = append(g.owners, uint16(off))
		off += 2 + rrFixedLen + int(binary.BigEndian.Uint16(wire[off+2+8:]))
	}
	g.Count = len(g.owners)
	return g
}

// AppendAt appends Wire to b with every owner the compression pointer to
// offset target (at most 0x3FFF).
func (g *Signed) AppendAt(b []byte, target int) []byte {
	off := len(b)
	b = append(b, g.Wire...)
	ptr := uint16(0xC000 | target)
	for _, o := range g.owners {
		binary.BigEndian.PutUint16(b[off+int(o):], ptr)
	}
	return b
}

// Rec is one record of a Set key: the material the renderer packed it
// from (never changed once made: a changed element is packed anew) and
// what it patched into it.
type Rec[T any] struct {
	P   *T
	Aux uint32
}

// Table holds the signatures of the RRsets a renderer sends often (see the
// package doc). T is the renderer's packed material of an element. Safe
// for concurrent use.
type Table[T any] struct {
	seed    uint64
	sets    [Slots]atomic.Pointer[SetEntry[T]]
	answers [Slots]atomic.Pointer[answerEntry]
	targets [Slots]atomic.Pointer[targetEntry[T]]
}

// SetEntry is an answer RRset's signatures by the keys of z, keyed by its
// records' material, and the rest of the reply as last written after
// them, when it depends on nothing but the records in the entry's order
// and the room left (Tail). Its key and G are never changed once stored.
type SetEntry[T any] struct {
	// G is the RRset's signatures.
	G *Signed

	z     *dnssec.Zone
	name  string
	typ   uint16
	recs  []Rec[T]
	index []uint8 // recs by their hash (Set, in another order)
	tail  atomic.Pointer[Tail]
}

// Tail is what a renderer writes after an answer RRset and its RRSIGs
// (an SRV answer's targets' addresses and their RRSIGs, the owners
// pointers into the answer) when it is in its entry's order, given Room
// bytes, until Until (the earliest of its signatures' Until, Unix
// nanoseconds). Never changed once stored.
type Tail struct {
	Room  int
	Wire  []byte
	Count int // records in Wire
	Until int64
}

// Tail returns the entry's tail for room bytes, fresh at now (Unix nanoseconds); nil if it
// has none.
func (e *SetEntry[T]) Tail(room int, now int64) *Tail {
	tl := e.tail.Load()
	if tl == nil || tl.Room != room || now >= tl.Until {
		return nil
	}
	return tl
}

// PutTail keeps tl as the entry's tail (the last one put wins).
func (e *SetEntry[T]) PutTail(tl *Tail) { e.tail.Store(tl) }

// answerEntry is an answer RRset's signatures by the keys of z, keyed by
// its packed records. It is never changed once stored.
type answerEntry struct {
	z      *dnssec.Zone
	name   string
	ans    string   // the answer section as first sent
	ends   []int    // the end of each record in ans
	hashes []uint64 // the hash of each
	g      *Signed
}

// targetEntry is the signatures of an element's address RRset of type typ
// by the keys of z.
type targetEntry[T any] struct {
	z   *dnssec.Zone
	p   *T
	typ uint16
	g   *Signed
}

// New returns an empty table.
func New[T any]() *Table[T] {
	return &Table[T]{seed: maphash.Bytes(maphash.MakeSeed(), nil) | 1}
}

// Set returns the entry of the answer RRset of name (lower case) and type
// typ by the keys of z whose records recs are, in any order, fresh at
// now, and whether recs are in the entry's order (then its Tail may
// follow); or nil and the slot for PutSet.
func (t *Table[T]) Set(z *dnssec.Zone, name string, typ uint16, recs []Rec[T], now int64) (e *SetEntry[T], same bool, slot int) {
	if len(recs) > MaxRecords {
		return nil, false, -1
	}
	// A sum, so that the order does not matter, of each record's material
	// and Aux mixed (not added: the rotations of a rank-ordered answer
	// have the same materials and the same Aux values, paired otherwise).
	var sum uint64
	for _, r := range recs {
		sum += r.mix()
	}
	slot = int(fmix(hashString(t.seed, name)^sum^uint64(typ)) % Slots)
	e = t.sets[slot].Load()
	if e == nil || e.z != z || e.typ != typ || len(e.recs) != len(recs) || e.name != name || now >= e.G.Until {
		return nil, false, slot
	}
	i := 0
	for i < len(recs) && recs[i] == e.recs[i] {
		i++
	}
	if i == len(recs) {
		return e, true, slot
	}
	// Another order: each of ours matches one of the entry's not matched
	// yet, found through the entry's index.
	var used uint64 = 1<<i - 1
	mask := len(e.index) - 1
	for _, r := range recs[i:] {
		found := false
		for k := int(r.mix()>>32) & mask; e.index[k] != 0; k = (k + 1) & mask {
			j := int(e.index[k]) - 1
			if used&(1<<j) == 0 && e.recs[j] == r {
				used |= 1 << j
				found = true
				break
			}
		}
		if !found {
			return nil, false, slot
		}
	}
	return e, false, slot
}

// mix hashes a record of a Set key.
func (r Rec[T]) mix() uint64 {
	x := (uint64(uintptr(unsafe.Pointer(r.P))) ^ uint64(r.Aux)*0x9E3779B97F4A7C15) * 0xC2B2AE3D27D4EB4F
	return x ^ x>>29
}

// PutSet stores g in slot, after Set said it had none, and returns the
// entry (recs in its order).
func (t *Table[T]) PutSet(slot int, z *dnssec.Zone, name string, typ uint16, recs []Rec[T], g *Signed) *SetEntry[T] {
	e := &SetEntry[T]{z: z, name: name, typ: typ, recs: slices.Clone(recs), G: g}
	// The index: open addressing, at most half full, each slot the
	// record's position + 1 (0: empty).
	size := 4
	for size < 2*len(recs) {
		size *= 2
	}
	e.index = make([]uint8, size)
	for j, r := range recs {
		k := int(r.mix()>>32) & (size - 1)
		for e.index[k] != 0 {
			k = (k + 1) & (size - 1)
		}
		e.index[k] = uint8(j + 1)
	}
	if slot >= 0 {
		t.sets[slot].Store(e)
	}
	return e
}

// Answer returns the signatures by the keys of z, fresh at now (Unix nanoseconds), of the
// answer section ans (packed records whose owner is a pointer to the
// question, name), its records in any order; or nil and the slot for
// PutAnswer. The records' hashes are left in *hs for PutAnswer.
func (t *Table[T]) Answer(hs *[]uint64, z *dnssec.Zone, name string, ans []byte, now int64) (*Signed, int) {
	h := (*hs)[:0]
	var sum uint64
	for off := 0; off < len(ans); {
		end := off + 2 + rrFixedLen + int(binary.BigEndian.Uint16(ans[off+2+8:]))
		x := hashBytes(t.seed, ans[off:end])
		h = append(h, x)
		sum += x
		off = end
	}
	*hs = h
	if len(h) > MaxRecords {
		return nil, -1
	}
	slot := int(fmix(hashString(t.seed, name)^sum) % Slots)
	e := t.answers[slot].Load()
	if e == nil || e.z != z || len(e.hashes) != len(h) || e.name != name || now >= e.g.Until {
		return nil, slot
	}
	if e.ans == string(ans) {
		return e.g, slot // in the same order
	}
	var used uint64
	off := 0
	for _, x := range h {
		end := off + 2 + rrFixedLen + int(binary.BigEndian.Uint16(ans[off+2+8:]))
		rec := ans[off:end]
		off = end
		found := false
		for j, eh := range e.hashes {
			if eh != x || used&(1<<j) != 0 {
				continue
			}
			start := 0
			if j > 0 {
				start = e.ends[j-1]
			}
			if e.ans[start:e.ends[j]] == string(rec) {
				used |= 1 << j
				found = true
				break
			}
		}
		if !found {
			return nil, slot
		}
	}
	return e.g, slot
}

// PutAnswer stores g in slot, after Answer said it had none (hs as Answer
// left it). It allocates: only on a miss.
func (t *Table[T]) PutAnswer(slot int, hs []uint64, z *dnssec.Zone, name string, ans []byte, g *Signed) {
	if slot < 0 {
		return
	}
	e := &answerEntry{z: z, name: name, ans: string(ans), hashes: slices.Clone(hs), g: g, ends: make([]int, 0, len(hs))}
	for off := 0; off < len(ans); {
		off += 2 + rrFixedLen + int(binary.BigEndian.Uint16(ans[off+2+8:]))
		e.ends = append(e.ends, off)
	}
	t.answers[slot].Store(e)
}

func (t *Table[T]) targetSlot(p *T, typ uint16) *atomic.Pointer[targetEntry[T]] {
	return &t.targets[fmix(t.seed^uint64(uintptr(unsafe.Pointer(p)))^uint64(typ))%Slots]
}

// Target returns the signatures by the keys of z, fresh at now (Unix nanoseconds), of the
// address RRset of type typ of the element packed as p, with its records;
// nil if the table has none.
func (t *Table[T]) Target(z *dnssec.Zone, p *T, typ uint16, now int64) *Signed {
	e := t.targetSlot(p, typ).Load()
	if e == nil || e.z != z || e.p != p || e.typ != typ || now >= e.g.Until {
		return nil
	}
	return e.g
}

// PutTarget stores the signatures of an element's address RRset, g.Wire
// holding its records and then its RRSIGs.
func (t *Table[T]) PutTarget(z *dnssec.Zone, p *T, typ uint16, g *Signed) {
	t.targetSlot(p, typ).Store(&targetEntry[T]{z: z, p: p, typ: typ, g: g})
}

// hashBytes hashes b, eight bytes at a time (the last eight overlapping
// the word before them).
func hashBytes(seed uint64, b []byte) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := (seed ^ uint64(len(b))) * m
	if len(b) < 8 {
		var w uint64
		for i, c := range b {
			w |= uint64(c) << (8 * i)
		}
		return fmix(h ^ w)
	}
	last := binary.LittleEndian.Uint64(b[len(b)-8:])
	for ; len(b) > 8; b = b[8:] {
		h = (h ^ binary.LittleEndian.Uint64(b)) * m
		h ^= h >> 29
	}
	return fmix(h ^ last)
}

func hashString(seed uint64, s string) uint64 {
	return hashBytes(seed, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// fmix mixes every bit of h into every other (MurmurHash3's finaliser):
// the records of an answer differ in a few bytes, and the slot is taken
// from the low bits of their hashes' sum.
func fmix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	return h ^ h>>33
}
