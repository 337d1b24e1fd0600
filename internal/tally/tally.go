package tally

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	chunkBits = 10
	chunkLen  = 1 << chunkBits // slots per chunk
	maxChunks = 4096
	// MaxSlots is how many slots may be in use at once (slot 0 is never
	// handed out: it means none).
	MaxSlots = chunkLen * maxChunks
	// MaxPools is how many pools may be counted at once.
	MaxPools      = poolChunkLen * maxPoolChunks
	poolChunkLen  = 256
	maxPoolChunks = 256
	sharedShards  = 2
)

// Counts are the counts of an element's (or a pool's) answers: how many
// had it first, and (a pool's only) how many of the pool's answers were
// timed and their total latency.
type Counts struct {
	Answers uint64
	Timed   uint64
	TimedNS uint64
}

// chunk is the answer counters of chunkLen slots; poolChunk the timing
// counters of poolChunkLen pools.
type chunk [chunkLen]atomic.Uint64

type poolChunk [poolChunkLen]struct{ timed, ns atomic.Uint64 }

// Shard holds counters for every slot (8 bytes each) and the timings of
// every pool. A loop's own shard is written by that loop only; a shared
// one by whoever holds it (atomically, so several may). Its methods are
// safe for concurrent use.
type Shard struct {
	t      *Table
	chunks [maxChunks]atomic.Pointer[chunk]
	pools  [maxPoolChunks]atomic.Pointer[poolChunk]
}

// Count counts an answer whose first element has slot.
func (s *Shard) Count(slot uint32) {
	i := (slot >> chunkBits) & (maxChunks - 1)
	c := s.chunks[i].Load()
	if c == nil {
		c = grow(&s.chunks[i])
	}
	c[slot&(chunkLen-1)].Add(1)
}

// Time adds the latency d of a timed answer of the pool with index pool
// (Ref.Pool; the answer is counted with Count besides).
func (s *Shard) Time(pool uint32, d time.Duration) {
	i := (pool / poolChunkLen) & (maxPoolChunks - 1)
	c := s.pools[i].Load()
	if c == nil {
		c = grow(&s.pools[i])
	}
	x := &c[pool%poolChunkLen]
	x.timed.Add(1)
	x.ns.Add(uint64(max(d, 0)))
}

// grow allocates a chunk on first use.
func grow[C any](p *atomic.Pointer[C]) *C {
	c := new(C)
	if p.CompareAndSwap(nil, c) {
		return c
	}
	return p.Load()
}

// Table returns the Table s counts for.
func (s *Shard) Table() *Table { return s.t }

// Release gives a shard taken with Table.Shard back when its loop ends;
// its counts stay (the next Shard call may hand it out again). A shared
// shard is not released.
func (s *Shard) Release() {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.idle = append(t.idle, s)
}

// read returns slot's count in s, and zeroes it when clear is set.
func (s *Shard) read(slot uint32, clear bool) uint64 {
	c := s.chunks[slot>>chunkBits].Load()
	if c == nil {
		return 0
	}
	if clear {
		return c[slot&(chunkLen-1)].Swap(0)
	}
	return c[slot&(chunkLen-1)].Load()
}

// readPool returns pool's timings in s, and zeroes them when clear is set.
func (s *Shard) readPool(pool uint32, clear bool) (timed, ns uint64) {
	c := s.pools[pool/poolChunkLen].Load()
	if c == nil {
		return 0, 0
	}
	x := &c[pool%poolChunkLen]
	if clear {
		return x.timed.Swap(0), x.ns.Swap(0)
	}
	return x.timed.Load(), x.ns.Load()
}

// Table is the slots and shards of one DNS front's tally. Its methods are
// safe for concurrent use.
type Table struct {
	next   atomic.Uint32 // round robin over shared
	shared [sharedShards]*Shard

	mu     sync.Mutex
	shards []*Shard // every shard made, shared ones included
	idle   []*Shard // loop shards released
	owners []owner  // by slot
	free   []uint32 // slots freed, to hand out again
	pools  map[string]*pool
	nPools uint32   // pool indexes handed out
	freeP  []uint32 // pool indexes freed
}

// owner is what a slot stands for.
type owner struct {
	p     *pool // nil: free
	id    uint32
	fixed bool // Add's: freed by Retain only
}

// pool is what a Table keeps of a pool.
type pool struct {
	idx   uint32              // its timing counters' index
	live  map[uint32][]uint32 // element ID → slots in use
	fixed map[uint32]uint32   // element ID → Add's slot
	gone  map[uint32]uint64   // element ID → counts of its freed slots
	// dropped is the count of the elements forgotten, so that the pool's
	// total never goes down.
	dropped uint64
}

// Ref is an element's slot and its pool's index, as Slot hands them out.
type Ref struct {
	Slot, Pool uint32
}

// New returns an empty Table.
func New() *Table {
	t := &Table{owners: make([]owner, 1), pools: map[string]*pool{}}
	for i := range t.shared {
		t.shared[i] = &Shard{t: t}
		t.shards = append(t.shards, t.shared[i])
	}
	return t
}

// Shard returns a shard for one goroutine's counting (a serving loop's),
// to Release when it ends.
func (t *Table) Shard() *Shard {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.idle); n > 0 {
		s := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return s
	}
	s := &Shard{t: t}
	t.shards = append(t.shards, s)
	return s
}

// Shared returns one of the shards shared by the goroutines that have
// none of their own (each caller keeps the one it got).
func (t *Table) Shared() *Shard {
	return t.shared[t.next.Add(1)%sharedShards]
}

// Slot returns a new slot for element id of pool (a lower-case FQDN),
// with the pool's index; Slot 0 when MaxSlots slots or MaxPools pools
// are in use. Free gives the slot back.
func (t *Table) Slot(pool string, id uint32) Ref {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.slot(pool, id, false)
}

func (t *Table) slot(name string, id uint32, fixed bool) Ref {
	p := t.pools[name]
	if p == nil {
		var idx uint32
		if n := len(t.freeP); n > 0 {
			idx = t.freeP[n-1]
			t.freeP = t.freeP[:n-1]
		} else {
			if t.nPools >= MaxPools {
				return Ref{}
			}
			idx = t.nPools
			t.nPools++
		}
		p = &pool{idx: idx, live: map[uint32][]uint32{}, fixed: map[uint32]uint32{}, gone: map[uint32]uint64{}}
		t.pools[name] = p
	}
	var slot uint32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if len(t.owners) >= MaxSlots {
			return Ref{}
		}
		slot = uint32(len(t.owners))
		t.owners = append(t.owners, owner{})
	}
	p.live[id] = append(p.live[id], slot)
	if fixed {
		p.fixed[id] = slot
	}
	t.owners[slot] = owner{p: p, id: id, fixed: fixed}
	return Ref{Slot: slot, Pool: p.idx}
}

// Free gives slot back: nothing counts with it any more. Its counts stay
// its element's.
func (t *Table) Free(slot uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.freeLocked(slot)
}

func (t *Table) freeLocked(slot uint32) {
	if slot == 0 || int(slot) >= len(t.owners) || t.owners[slot].p == nil {
		return
	}
	o := t.owners[slot]
	var n uint64
	for _, s := range t.shards {
		n += s.read(slot, true)
	}
	o.p.gone[o.id] += n
	ls := o.p.live[o.id]
	for i, x := range ls {
		if x == slot {
			ls = append(ls[:i], ls[i+1:]...)
			break
		}
	}
	if len(ls) == 0 {
		delete(o.p.live, o.id)
	} else {
		o.p.live[o.id] = ls
	}
	if o.fixed {
		delete(o.p.fixed, o.id)
	}
	t.owners[slot] = owner{}
	t.free = append(t.free, slot)
}

// Add counts an answer of pool with element id first, and with d > 0 its
// latency, on a shared shard: the slow path, which looks the element up
// (for tests, and answers whose element's slot is another Table's).
func (t *Table) Add(pool string, id uint32, d time.Duration) {
	t.mu.Lock()
	var ref Ref
	if p := t.pools[pool]; p != nil {
		ref = Ref{Slot: p.fixed[id], Pool: p.idx}
	}
	if ref.Slot == 0 {
		ref = t.slot(pool, id, true)
	}
	t.mu.Unlock()
	if ref.Slot == 0 {
		return
	}
	s := t.Shared()
	s.Count(ref.Slot)
	if d > 0 {
		s.Time(ref.Pool, d)
	}
}

// Read returns pool's running totals and, into into if not nil, each
// element's count of first places; ok is false when the pool has had no
// answer counted.
func (t *Table) Read(pool string, into map[uint32]uint64) (total Counts, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.pools[pool]
	if p == nil {
		return Counts{}, false
	}
	total.Answers = p.dropped
	for id, g := range p.gone {
		if _, live := p.live[id]; !live {
			total.Answers += g
			if into != nil {
				into[id] = g
			}
		}
	}
	for id, slots := range p.live {
		n := p.gone[id]
		for _, slot := range slots {
			for _, s := range t.shards {
				n += s.read(slot, false)
			}
		}
		total.Answers += n
		if into != nil {
			into[id] = n
		}
	}
	for _, s := range t.shards {
		timed, ns := s.readPool(p.idx, false)
		total.Timed += timed
		total.TimedNS += ns
	}
	return total, true
}

// Retain forgets the pools that keepPool says no to, once nothing counts
// for them, and in the others the counts of the elements that keepElem
// says no to (their slots in use stay until freed; Add's are freed).
func (t *Table) Retain(keepPool func(pool string) bool, keepElem func(pool string, id uint32) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, p := range t.pools {
		keep := keepPool(name)
		for id, slot := range p.fixed {
			if !keep || !keepElem(name, id) {
				t.freeLocked(slot)
			}
		}
		for id, g := range p.gone {
			if !keep || !keepElem(name, id) {
				if _, live := p.live[id]; !live {
					p.dropped += g
					delete(p.gone, id)
				}
			}
		}
		if !keep && len(p.live) == 0 {
			for _, s := range t.shards {
				s.readPool(p.idx, true)
			}
			t.freeP = append(t.freeP, p.idx)
			delete(t.pools, name)
		}
	}
}

// InUse returns how many slots are in use.
func (t *Table) InUse() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.owners) - 1 - len(t.free)
}
