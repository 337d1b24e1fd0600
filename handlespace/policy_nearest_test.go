package handlespace

import (
	"testing"
	"time"
)

func TestNearest(t *testing.T) {
	p := mustPolicy(t, "nearest", nil)
	elems := polElems(5, nil)
	for i, rtt := range []time.Duration{3 * time.Millisecond, 0, 1 * time.Millisecond, 1*time.Millisecond + 20*time.Microsecond, 7 * time.Millisecond} {
		elems[i].RTT = rtt
	}
	sel := build(p, elems, nil)
	// 2 and 3 are equally near (same 100 µs unit): they take turns first;
	// then 0 (3 ms), 4 (7 ms), and 1 (unknown) last.
	want := [][]int32{{2, 3, 0, 4, 1}, {3, 2, 0, 4, 1}, {2, 3, 0, 4, 1}}
	for q, w := range want {
		got := sel.Select(nil, 0, nil)
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("query %d: order %v, want %v", q, got, w)
			}
		}
	}
	if got := sel.Select(nil, 1, nil); len(got) != 1 || (got[0] != 2 && got[0] != 3) {
		t.Errorf("k=1: %v", got)
	}
}
