package dnssec

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCacheSize is the signature cache's default bound: 64 MiB.
const DefaultCacheSize = 64 << 20

// entryOverhead is what a cache entry costs besides its key and its
// signatures' bytes: the map slot, the entry, the Sigs and RRSIG structs
// (measured by BenchmarkCacheMemory and rounded up).
const entryOverhead = 450

// cacheShards is the number of independently locked parts of the cache.
const cacheShards = 16

// CacheStats are the signature cache's counters since the Signer was made.
type CacheStats struct {
	// Hits: signatures found, fresh (or being re-signed by another query).
	Hits uint64
	// Misses: RRsets signed because they were not in the cache.
	Misses uint64
	// Refreshes: RRsets signed again because less than a quarter of their
	// signatures' validity was left.
	Refreshes uint64
	// Evictions: entries dropped to keep the cache within its bound.
	Evictions uint64
	// Entries and Bytes: what the cache holds now (Bytes as counted
	// against the bound: keys, signatures and a fixed overhead each).
	Entries int
	Bytes   int64
}

// cache holds signatures by the canonical content of what they sign. It
// is bounded in bytes and evicts by CLOCK (an entry used since the hand
// last passed is spared once). A lookup holds one shard's lock for a map
// access; signing happens outside any lock, once per key at a time: the
// queries that ask for an RRset being signed wait for that signature (at
// most one signature's time), and the ones that ask for an RRset being
// re-signed get the old signatures, still valid.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]shard

	hits, misses, refreshes, evictions atomic.Uint64
}

type shard struct {
	mu    sync.Mutex
	m     map[string]*entry
	ring  []*entry // the CLOCK
	hand  int
	bytes int64
	max   int64
}

type entry struct {
	key        string
	val        atomic.Pointer[Sigs] // nil until first signed
	done       chan struct{}        // closed when first signed, or failed
	ref        atomic.Bool          // used since the hand passed
	refreshing atomic.Bool          // a query is signing it again
	size       int64
	slot       int // index in ring; -1 when evicted
}

func newCache(maxBytes int64) *cache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheSize
	}
	c := &cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = map[string]*entry{}
		c.shards[i].max = max(maxBytes/cacheShards, 1)
	}
	return c
}

// outcome of a lookup.
type outcome uint8

const (
	hit     outcome = iota // v is good
	sign                   // the caller signs and calls fill (or fail)
	refresh                // the caller signs again and calls fill; v is still valid until it does
)

// lookup finds key's signatures at now. On sign and refresh, the caller
// must sign and then call fill(e, …) or fail(e).
func (c *cache) lookup(key []byte, now time.Time) (e *entry, v *Sigs, o outcome) {
	sh := &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
	sh.mu.Lock()
	e = sh.m[string(key)]
	if e == nil {
		e = &entry{key: string(key), done: make(chan struct{}), size: int64(len(key)) + entryOverhead}
		sh.insert(e, c)
		sh.mu.Unlock()
		c.misses.Add(1)
		return e, nil, sign
	}
	sh.mu.Unlock()
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	v = e.val.Load()
	if v == nil {
		<-e.done // being signed: wait for that one signature
		if v = e.val.Load(); v == nil {
			c.misses.Add(1)
			return e, nil, refresh // it failed; sign without waiting again
		}
	}
	if now.Before(v.refresh) {
		c.hits.Add(1)
		return e, v, hit
	}
	if e.refreshing.CompareAndSwap(false, true) {
		c.refreshes.Add(1)
		return e, v, refresh
	}
	if now.Before(v.Expiration) {
		c.hits.Add(1)
		return e, v, hit // another query re-signs it
	}
	c.refreshes.Add(1)
	return e, v, refresh // expired: sign too rather than wait
}

// peek returns key's signatures at now without signing or waiting: nil
// when the cache does not have them, they are being signed, or they are
// due to be signed again and no caller is doing it yet (the caller's later
// lookup does: peek never leaves an RRset to go stale). Another caller's
// refresh in flight does not hide signatures still valid.
func (c *cache) peek(key []byte, now time.Time) *Sigs {
	sh := &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
	sh.mu.Lock()
	e := sh.m[string(key)]
	sh.mu.Unlock()
	if e == nil {
		return nil
	}
	v := e.val.Load()
	if v == nil {
		return nil // being signed
	}
	if !now.Before(v.refresh) && !(e.refreshing.Load() && now.Before(v.Expiration)) {
		return nil
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	c.hits.Add(1)
	return v
}

// fill stores the signatures made after lookup said sign or refresh.
func (c *cache) fill(e *entry, v *Sigs) {
	e.val.Store(v)
	e.refreshing.Store(false)
	select {
	case <-e.done:
	default:
		close(e.done)
	}
	sh := &c.shards[maphash.String(c.seed, e.key)%cacheShards]
	sh.mu.Lock()
	if e.slot >= 0 && sh.m[e.key] == e {
		size := int64(len(e.key)) + entryOverhead + v.bytes()
		sh.bytes += size - e.size
		e.size = size
		sh.evict(c)
	}
	sh.mu.Unlock()
}

// fail ends a signing that failed: waiting queries sign for themselves.
func (c *cache) fail(e *entry) {
	e.refreshing.Store(false)
	select {
	case <-e.done:
	default:
		close(e.done)
	}
	if e.val.Load() != nil {
		return
	}
	sh := &c.shards[maphash.String(c.seed, e.key)%cacheShards]
	sh.mu.Lock()
	if e.slot >= 0 && sh.m[e.key] == e {
		sh.remove(e)
	}
	sh.mu.Unlock()
}

// insert adds e and evicts until the shard is within its bound. sh.mu is
// held.
func (sh *shard) insert(e *entry, c *cache) {
	sh.m[e.key] = e
	e.slot = len(sh.ring)
	sh.ring = append(sh.ring, e)
	sh.bytes += e.size
	sh.evict(c)
}

// evict drops entries by CLOCK until the shard is within its bound, never
// the last one. sh.mu is held.
func (sh *shard) evict(c *cache) {
	for sh.bytes > sh.max && len(sh.ring) > 1 {
		if sh.hand >= len(sh.ring) {
			sh.hand = 0
		}
		e := sh.ring[sh.hand]
		if e.ref.Load() {
			e.ref.Store(false)
			sh.hand++
			continue
		}
		sh.remove(e)
		c.evictions.Add(1)
	}
}

// remove takes e out of the shard: the last entry of the ring takes its
// slot. sh.mu is held.
func (sh *shard) remove(e *entry) {
	delete(sh.m, e.key)
	last := sh.ring[len(sh.ring)-1]
	sh.ring[e.slot] = last
	last.slot = e.slot
	sh.ring[len(sh.ring)-1] = nil
	sh.ring = sh.ring[:len(sh.ring)-1]
	sh.bytes -= e.size
	e.slot = -1
}

func (c *cache) stats() CacheStats {
	s := CacheStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Refreshes: c.refreshes.Load(), Evictions: c.evictions.Load(),
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		s.Entries += len(sh.m)
		s.Bytes += sh.bytes
		sh.mu.Unlock()
	}
	return s
}
