package dnsfront

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/poolnsd/poolnsd/internal/tally"
)

// Tally counts the pools' answers for the status page's history (package
// history's Answers is one): each answer of a pool, by the element the
// policy put first, and the latency of the UDP loop's batches that held
// one. Its Table is counted into on the query path.
type Tally interface {
	Table() *tally.Table
}

// The answer path's cost: an element's packed material (elemWire), which
// the answer finds by index, carries the element's slot in the tally
// (taken the first time it comes first, and given back when the material
// is collected), and each scratch has a shard of counters: the UDP loop's
// scratch its own, the shared scratches (TCP, the dns.Msg renderer) one
// of two shared ones. So counting an answer is one atomic add on a
// counter that only its loop writes: no map, no lock, no cache line
// shared between the loops.
//
// The latency: the loop reads the clock once a batch (it has read it when
// the batch came, loopAnswerer.now), after the batch's replies are sent,
// and gives that time to the first pool answer of the batch: what the
// batch's queries waited, from the read to the send.

// tallyState is a scratch's counting.
type tallyState struct {
	table *tally.Table
	shard *tally.Shard
	loop  bool      // the UDP loop's own scratch: time its batches
	timed *elemWire // the loop's: the first pool answer of the batch in hand
}

// tallyRef is an elemWire's slot in the tally, nil until it is first
// counted.
type tallyRef struct{ atomic.Pointer[elemTally] }

// elemTally is an element's slot in a Table, on its packed material.
type elemTally struct {
	t *tally.Table
	tally.Ref
}

// loopTally is a new UDP loop's counting, nil without a tally; release
// gives its shard back when the loop ends.
func (h *Handler) loopTally() *tallyState {
	if t := h.tallyTable(); t != nil {
		return &tallyState{table: t, shard: t.Shard(), loop: true}
	}
	return nil
}

// sharedTally is a shared scratch's counting, nil without a tally.
func (h *Handler) sharedTally() *tallyState {
	if t := h.tallyTable(); t != nil {
		return &tallyState{table: t, shard: t.Shared()}
	}
	return nil
}

func (h *Handler) tallyTable() *tally.Table {
	if h.tally == nil {
		return nil
	}
	return h.tally.Table()
}

func (ts *tallyState) release() {
	if ts != nil && ts.loop {
		ts.timed = nil
		ts.shard.Release()
	}
}

// tallyWire counts a pool answer written by packPool, whose first
// element's packed records it left in s.first.
func (h *Handler) tallyWire(r *Result, s *scratch) {
	if ts := s.tally; ts != nil && s.first != nil {
		ts.count(s.first, r, s)
	}
	s.first = nil
}

// tallyAnswer counts a pool answer whose elements are in s.picks (the
// dns.Msg renderer's, which finds the first one's packed records).
func (h *Handler) tallyAnswer(r *Result, s *scratch) {
	if s.tally == nil || len(s.picks) == 0 {
		return
	}
	p := s.picks[0]
	pw := r.Pool.Memo(buildPoolWire).(*poolWire)
	s.tally.count(pw.partOf(p)[p.Index()], r, s)
}

// count counts an answer of r with ew's element (s.picks[0]) first.
func (ts *tallyState) count(ew *elemWire, r *Result, s *scratch) {
	et := ew.tally.Load()
	if et == nil || et.t != ts.table {
		if et = ts.slotOf(ew, r.Pool.Name, s.picks[0].Elem().ID); et == nil {
			return
		}
	}
	ts.shard.Count(et.Slot)
	if ts.loop && ts.timed == nil {
		ts.timed = ew
	}
	runtime.KeepAlive(ew) // its slot is not freed before the count
}

// slotOf gives ew a slot of ts's Table, the first time it comes first,
// and a cleanup that frees the slot when ew is collected. It returns nil
// when the answer is not to be counted with a slot: ew has another
// Table's (two handlers of one handlespace: counted the slow way) or the
// Table is full.
func (ts *tallyState) slotOf(ew *elemWire, pool string, id uint32) *elemTally {
	t := ts.table
	if ew.tally.Load() == nil {
		if ref := t.Slot(pool, id); ref.Slot != 0 {
			et := &elemTally{t: t, Ref: ref}
			if ew.tally.CompareAndSwap(nil, et) {
				runtime.AddCleanup(ew, func(et *elemTally) { et.t.Free(et.Slot) }, et)
				return et
			}
			t.Free(ref.Slot)
		}
	}
	if et := ew.tally.Load(); et != nil && et.t == t {
		return et
	}
	t.Add(pool, id, 0)
	return nil
}

// timeBatch gives the time since the batch was read to the batch's first
// pool answer, if it had one (the loop calls it once its replies are
// sent).
func (ts *tallyState) timeBatch(read time.Time) {
	if ts == nil || ts.timed == nil {
		return
	}
	ew := ts.timed
	ts.timed = nil
	if et := ew.tally.Load(); et != nil && et.t == ts.table {
		ts.shard.Time(et.Pool, time.Since(read))
	}
	runtime.KeepAlive(ew)
}
