package tally

import (
	"sync"
	"testing"
	"time"
)

// TestCountRead: counts and timings on loop and shared shards add up by
// element and pool; a freed slot's counts stay its element's, and the
// slot is handed out again.
func TestCountRead(t *testing.T) {
	tb := New()
	a, b := tb.Shard(), tb.Shard()
	r1, r2 := tb.Slot("web.", 1), tb.Slot("web.", 2)
	r1b := tb.Slot("web.", 1) // a second slot of the same element (new packed material)
	s1, s2, s1b := r1.Slot, r2.Slot, r1b.Slot
	if s1 == 0 || s2 == 0 || s1b == 0 || s1 == s2 || s1 == s1b || r1.Pool != r2.Pool {
		t.Fatalf("refs %v %v %v: want distinct, non-zero slots of one pool", r1, r2, r1b)
	}
	if r := tb.Slot("api.", 1); r.Pool == r1.Pool {
		t.Errorf("api's pool index %d is web's", r.Pool)
	}
	for range 3 {
		a.Count(s1)
	}
	b.Count(s1)
	b.Count(s1b)
	a.Count(s2)
	a.Time(r1.Pool, 30*time.Microsecond)
	b.Time(r2.Pool, 10*time.Microsecond)
	tb.Add("web.", 2, 20*time.Microsecond)
	into := map[uint32]uint64{}
	total, ok := tb.Read("web.", into)
	want := Counts{Answers: 7, Timed: 3, TimedNS: 60000}
	if !ok || total != want {
		t.Fatalf("total %+v %v, want %+v", total, ok, want)
	}
	if into[1] != 5 || into[2] != 2 {
		t.Errorf("by element %+v", into)
	}
	if _, ok := tb.Read("other.", nil); ok {
		t.Error("a pool never counted reads as counted")
	}
	tb.Free(s1)
	tb.Free(s1) // twice: nothing more
	if total, _ := tb.Read("web.", into); total != want || into[1] != 5 {
		t.Errorf("after Free: total %+v, element 1 %+v; want the same counts", total, into[1])
	}
	if r := tb.Slot("api.", 9); r.Slot != s1 {
		t.Errorf("new slot %d, want the freed %d again", r.Slot, s1)
	} else {
		a.Count(r.Slot)
		if c, _ := tb.Read("api.", nil); c.Answers != 1 {
			t.Errorf("the reused slot starts at %d answers, want 1", c.Answers)
		}
	}
	// A released shard's counts stay, and the next Shard call gets it.
	a.Release()
	if got, _ := tb.Read("web.", nil); got != want {
		t.Errorf("after Release: %+v, want %+v", got, want)
	}
	if c := tb.Shard(); c != a {
		t.Error("Shard did not hand the released shard out again")
	}
}

// TestRetain: forgetting elements and pools keeps a pool's total from
// going down, frees Add's slots, and keeps what still counts.
func TestRetain(t *testing.T) {
	tb := New()
	sh := tb.Shard()
	s1 := tb.Slot("web.", 1).Slot
	s2 := tb.Slot("web.", 2).Slot
	sh.Count(s1)
	sh.Count(s2)
	sh.Count(s2)
	tb.Add("web.", 3, 0)
	tb.Free(s2)
	tb.Retain(func(string) bool { return true }, func(_ string, id uint32) bool { return id == 1 })
	into := map[uint32]uint64{}
	total, _ := tb.Read("web.", into)
	if total.Answers != 4 || len(into) != 1 || into[1] != 1 {
		t.Errorf("after retaining element 1: total %d, elements %v; want 4 and only element 1", total.Answers, into)
	}
	// The pool goes: it stays while a slot of it is in use.
	tb.Retain(func(string) bool { return false }, func(string, uint32) bool { return false })
	if _, ok := tb.Read("web.", nil); !ok {
		t.Error("a pool with a slot in use was forgotten")
	}
	tb.Free(s1)
	tb.Retain(func(string) bool { return false }, func(string, uint32) bool { return false })
	if _, ok := tb.Read("web.", nil); ok {
		t.Error("a pool gone, with no slot in use, is still there")
	}
}

// TestConcurrent: loop shards, shared shards, Free, Read and Retain at
// once (run with -race); no count is lost.
func TestConcurrent(t *testing.T) {
	tb := New()
	const loops, n = 4, 5000
	slots := make([]uint32, 8)
	for i := range slots {
		slots[i] = tb.Slot("web.", uint32(i+1)).Slot
	}
	var wg sync.WaitGroup
	for g := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh := tb.Shard()
			defer sh.Release()
			shared := tb.Shared()
			for i := range n {
				sh.Count(slots[(g+i)%len(slots)])
				shared.Count(slots[i%len(slots)])
			}
		}()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			tb.Read("web.", map[uint32]uint64{})
			tb.Retain(func(string) bool { return true }, func(string, uint32) bool { return true })
			tb.Free(tb.Slot("other.", 1).Slot)
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	if total, _ := tb.Read("web.", nil); total.Answers != 2*loops*n {
		t.Errorf("total %d, want %d", total.Answers, 2*loops*n)
	}
}

// BenchmarkCount is the cost of counting an answer: on a loop's own
// shard, and with every CPU on its own shard (parallel), which share no
// counter.
func BenchmarkCount(b *testing.B) {
	tb := New()
	slots := []uint32{tb.Slot("web.", 1).Slot, tb.Slot("web.", 2).Slot, tb.Slot("web.", 3).Slot}
	b.Run("serial", func(b *testing.B) {
		sh := tb.Shard()
		defer sh.Release()
		i := 0
		for b.Loop() {
			sh.Count(slots[i%3])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			sh := tb.Shard()
			defer sh.Release()
			i := 0
			for pb.Next() {
				sh.Count(slots[i%3])
				i++
			}
		})
	})
}
