package dnsfront

import (
	"testing"
	"unsafe"
)

// TestElemWireOneAllocation: an element's packed material and its buffer
// are one allocation up to the largest inline size, filling a size class
// of the allocator (elemWire's size plus the array's), and two beyond.
func TestElemWireOneAllocation(t *testing.T) {
	if n := unsafe.Sizeof(elemWire{}); n != 104 {
		t.Fatalf("elemWire is %d bytes: wireAllocs' sizes assume 104", n)
	}
	classes := map[int]bool{128: true, 144: true, 160: true, 176: true, 192: true, 208: true, 224: true,
		240: true, 256: true, 288: true, 320: true, 384: true, 512: true}
	last := 0
	for _, a := range wireAllocs {
		if !classes[104+a.n] || a.n <= last {
			t.Errorf("inline size %d: 104+%d is not one of the allocator's classes, or out of order", a.n, a.n)
		}
		last = a.n
	}
	for _, n := range []int{0, 1, 24, 25, 71, 152, 153, 408, 409, 2000} {
		want := 1.0
		if n > last {
			want = 2
		}
		var ew *elemWire
		if got := testing.AllocsPerRun(20, func() { ew = newElemWire(n) }); got != want {
			t.Errorf("newElemWire(%d): %v allocations, want %v", n, got, want)
		}
		if len(ew.buf) != 0 || cap(ew.buf) < n {
			t.Errorf("newElemWire(%d): buf of length %d, room for %d", n, len(ew.buf), cap(ew.buf))
		}
	}
}
