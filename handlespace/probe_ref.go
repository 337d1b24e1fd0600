package handlespace

import "github.com/poolnsd/poolnsd/handlespace/internal/intern"

// ProbeRef is an element's own probe settings (Element.Probe) as a small
// number, so that the element holds no pointer for the collector to
// follow: 0 for none (the pool's settings apply), else the number of a
// ProbeSpec in a table of every distinct one that elements were given,
// interned by value (few distinct settings: most elements take the
// pool's). The table only grows, up to probeRefMax specs (a few MB);
// past that, ProbeRefOf gives 0, so that such elements are probed with
// their pool's settings.
type ProbeRef uint32

const probeRefMax = 1 << 16

var probeRefs = intern.New[ProbeSpec, ProbeSpec](probeRefMax)

// ProbeRefOf returns the ProbeRef of *p (nil: 0, none). It does not keep
// p. Safe for concurrent use (it takes the table's lock; Spec takes none).
func ProbeRefOf(p *ProbeSpec) ProbeRef {
	if p == nil {
		return 0
	}
	return ProbeRef(probeRefs.Of(*p, func() ProbeSpec { return *p }))
}

// Spec returns the element's own probe settings, nil for none. The spec
// is shared by every element that has the same: it must not be written
// (a writer gives an element other settings with ProbeRefOf).
func (r ProbeRef) Spec() *ProbeSpec { return probeRefs.Get(uint32(r)) }
