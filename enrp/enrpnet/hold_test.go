package enrpnet

import (
	"testing"

	"github.com/poolnsd/poolnsd/enrp"
)

// TestHoldBack: while a handle table comes in, its pages' operations wait
// (hold); another peer's operations meanwhile apply at once, but for one
// of an element whose operation waits, which waits behind it, in order.
func TestHoldBack(t *testing.T) {
	d := &Driver{}
	op := func(pool string, id uint32, kind enrp.OpKind) enrp.Op { return enrp.Op{Pool: pool, ID: id, Kind: kind} }
	if now := d.holdBack([]enrp.Op{op("a.", 1, enrp.OpPut), op("a.", 2, enrp.OpPut)}, true); len(now) != 0 || len(d.pending) != 2 {
		t.Fatalf("a table page's operations: %d applied now, %d held; want 0 and 2", len(now), len(d.pending))
	}
	now := d.holdBack([]enrp.Op{op("a.", 3, enrp.OpPut), op("a.", 2, enrp.OpDelete), op("b.", 2, enrp.OpPut)}, false)
	if len(now) != 2 || now[0].ID != 3 || now[1].Pool != "b." {
		t.Fatalf("another peer's operations applied now: %+v, want a. 3 and b. 2", now)
	}
	if len(d.pending) != 3 || d.pending[2].Kind != enrp.OpDelete || d.pending[2].ID != 2 {
		t.Fatalf("held: %+v, want the page's two and then a. 2's deletion", d.pending)
	}
}
