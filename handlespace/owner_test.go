package handlespace

import (
	"fmt"
	"sync"
	"testing"
)

// TestOwner: OwnerOf gives one number per name, the zero Owner for "",
// and String gives the name back, also when goroutines make owners at
// the same moment.
func TestOwner(t *testing.T) {
	if o := OwnerOf(""); o != 0 || o.String() != "" {
		t.Errorf(`OwnerOf(""): %d %q, want 0 ""`, o, o.String())
	}
	const n = 300
	got := make([][n]Owner, 4)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for i := range n {
				got[g][i] = OwnerOf(fmt.Sprintf("tsig:owner-test-%d.", i))
			}
		})
	}
	wg.Wait()
	seen := map[Owner]bool{}
	for i := range n {
		o := got[0][i]
		if o == 0 || seen[o] || o.String() != fmt.Sprintf("tsig:owner-test-%d.", i) {
			t.Fatalf("owner %d: %d %q, seen before %v", i, o, o.String(), seen[o])
		}
		seen[o] = true
		for g := range got {
			if got[g][i] != o {
				t.Fatalf("owner %d: goroutine %d got %d, another %d", i, g, got[g][i], o)
			}
		}
	}
	if OwnerOverflow.String() == "" || OwnerOf("http") == OwnerOverflow {
		t.Error("the overflow owner names no one, and is not given below the table's size")
	}
}
