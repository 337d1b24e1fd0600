package dnsfront

// An elemWire and its buffer are one allocation, one object for the
// collector, not two: elemWire (104 bytes) comes with an array of one of
// these sizes, each filling a size class of the allocator (128 … 512 bytes,
// so no more room than the buffer took alone); a larger one is apart.
var wireAllocs = [...]wireAlloc{
	{24, func() *elemWire { x := new(wireBuf[[24]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{40, func() *elemWire { x := new(wireBuf[[40]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{56, func() *elemWire { x := new(wireBuf[[56]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{72, func() *elemWire { x := new(wireBuf[[72]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{88, func() *elemWire { x := new(wireBuf[[88]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{104, func() *elemWire { x := new(wireBuf[[104]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{120, func() *elemWire { x := new(wireBuf[[120]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{136, func() *elemWire { x := new(wireBuf[[136]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{152, func() *elemWire { x := new(wireBuf[[152]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{184, func() *elemWire { x := new(wireBuf[[184]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{216, func() *elemWire { x := new(wireBuf[[216]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{280, func() *elemWire { x := new(wireBuf[[280]byte]); x.w.buf = x.b[:0]; return &x.w }},
	{408, func() *elemWire { x := new(wireBuf[[408]byte]); x.w.buf = x.b[:0]; return &x.w }},
}

type wireAlloc struct {
	n     int
	alloc func() *elemWire
}

// wireBuf is an elemWire with its buffer's array B (an array of bytes).
type wireBuf[B any] struct {
	w elemWire
	b B
}

// newElemWire returns an empty elemWire whose buf has room for n bytes (its
// MemoHead first in the allocation, as handlespace.ElementMemo wants).
func newElemWire(n int) *elemWire {
	for _, a := range wireAllocs {
		if n <= a.n {
			return a.alloc()
		}
	}
	return &elemWire{buf: make([]byte, 0, n)}
}
