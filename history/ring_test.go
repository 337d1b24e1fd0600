package history

import (
	"encoding/json"
	"math"
	"testing"
)

func vals(r *ring, last int64, n int) []float64 {
	var out []float64
	for _, v := range r.window(last, n) {
		if v != v {
			out = append(out, -1) // NaN, for comparing
		} else {
			out = append(out, float64(v))
		}
	}
	return out
}

func same(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRing: consecutive slots, a gap (NaN), wrapping around, a slot too
// old to keep, and a window longer than what is held.
func TestRing(t *testing.T) {
	r := newRing(4)
	if got := vals(&r, 10, 2); !same(got, []float64{-1, -1}) {
		t.Errorf("empty ring %v", got)
	}
	r.put(10, 1)
	r.put(11, 2)
	if got := vals(&r, 11, 3); !same(got, []float64{-1, 1, 2}) {
		t.Errorf("after 10,11: %v", got)
	}
	r.put(13, 4) // 12 skipped
	if got := vals(&r, 13, 4); !same(got, []float64{1, 2, -1, 4}) {
		t.Errorf("after a gap: %v", got)
	}
	r.put(15, 6) // wraps: 12..15 held, 10 and 11 gone
	if got := vals(&r, 15, 6); !same(got, []float64{-1, -1, -1, 4, -1, 6}) {
		t.Errorf("after wrapping: %v", got)
	}
	r.put(11, 99) // too old: dropped, nothing overwritten
	if got := vals(&r, 15, 4); !same(got, []float64{-1, 4, -1, 6}) {
		t.Errorf("an old slot was written: %v", got)
	}
	r.put(13, 5)  // within: rewritten
	r.put(100, 7) // a gap longer than the ring: only 100 held
	if got := vals(&r, 100, 5); !same(got, []float64{-1, -1, -1, -1, 7}) {
		t.Errorf("after a long gap: %v", got)
	}
	if len(r.vals) != 4 {
		t.Errorf("ring grew to %d", len(r.vals))
	}
	// Negative slots (times before 1970) wrap too.
	n := newRing(3)
	n.put(-5, 1)
	n.put(-4, 2)
	if got := vals(&n, -4, 2); !same(got, []float64{1, 2}) {
		t.Errorf("negative slots: %v", got)
	}
}

// TestSeriesFold: a long-window point is the minimum, the mean or the sum
// of its samples, and it is there while its slot is still filling.
func TestSeriesFold(t *testing.T) {
	for _, tt := range []struct {
		agg  agg
		want []float64
	}{
		{aggMin, []float64{1, 0, 7}},
		{aggMean, []float64{2, 1, 7}},
		{aggSum, []float64{6, 2, 7}},
	} {
		s := newSeries(10, 5, 3, tt.agg)
		for i, v := range []float32{1, 2, 3, 2, 0, nan, 7} { // slots 0..6: coarse 0 = {1,2,3}, 1 = {2,0,-}, 2 = {7}
			s.add(int64(i), v)
		}
		if got := vals(&s.coarse, 2, 3); !same(got, tt.want) {
			t.Errorf("agg %d: coarse %v, want %v", tt.agg, got, tt.want)
		}
	}
	// A coarse slot with no sample at all is NaN.
	s := newSeries(10, 5, 3, aggMean)
	s.add(0, 1)
	s.add(7, 1) // coarse 1 has none
	if got := vals(&s.coarse, 2, 3); !same(got, []float64{1, -1, 1}) {
		t.Errorf("coarse with an empty slot %v", got)
	}
}

func TestValuesJSON(t *testing.T) {
	v := Values{1, nan, 0.1, float32(math.Inf(1)), 123456}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `[1,null,0.1,null,123456]` {
		t.Errorf("JSON %s", b)
	}
	var back Values
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 5 || back[0] != 1 || back[1] == back[1] || back[2] != 0.1 || back[4] != 123456 {
		t.Errorf("back %v", back)
	}
}
