package dnsfront

// An elemWire and its buffer are one allocation, so that the collector
// marks one object per queried element, not two, and follows a pointer
// into the object it scans already, not to another: elemWire (104 bytes)
// comes with an array of one of these sizes after it, each filling a size
// class of Go's allocator (128, 144, … 512 bytes), so that a buffer costs
// no more room than on its own; a larger one is allocated apart.
var wireAllocs = [...]struct {
	n     int
	alloc func() *elemWire
}{
	{24, func() *elemWire {
		x := new(struct {
			w elemWire
			b [24]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{40, func() *elemWire {
		x := new(struct {
			w elemWire
			b [40]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{56, func() *elemWire {
		x := new(struct {
			w elemWire
			b [56]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{72, func() *elemWire {
		x := new(struct {
			w elemWire
			b [72]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{88, func() *elemWire {
		x := new(struct {
			w elemWire
			b [88]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{104, func() *elemWire {
		x := new(struct {
			w elemWire
			b [104]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{120, func() *elemWire {
		x := new(struct {
			w elemWire
			b [120]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{136, func() *elemWire {
		x := new(struct {
			w elemWire
			b [136]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{152, func() *elemWire {
		x := new(struct {
			w elemWire
			b [152]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{184, func() *elemWire {
		x := new(struct {
			w elemWire
			b [184]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{216, func() *elemWire {
		x := new(struct {
			w elemWire
			b [216]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{280, func() *elemWire {
		x := new(struct {
			w elemWire
			b [280]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
	{408, func() *elemWire {
		x := new(struct {
			w elemWire
			b [408]byte
		})
		x.w.buf = x.b[:0]
		return &x.w
	}},
}

// newElemWire returns an empty elemWire whose buf has room for n bytes.
// Its first field is the MemoHead at the start of the allocation, as
// handlespace.ElementMemo wants.
func newElemWire(n int) *elemWire {
	for _, a := range wireAllocs {
		if n <= a.n {
			return a.alloc()
		}
	}
	return &elemWire{buf: make([]byte, 0, n)}
}
