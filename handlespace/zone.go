package handlespace

import (
	"strings"

	"github.com/miekg/dns"
)

// ZoneDef is one zone as a zone file defines it: what ApplyZones takes.
type ZoneDef struct {
	Origin  string   // lower-case FQDN
	File    string   // where it was defined, for messages
	Records []dns.RR // static records, SOA and NS included, served as written
	Pools   []PoolDef
}

// PoolDef is a pool as a zone file defines it.
type PoolDef struct {
	Handle   string // one lower-case label under the zone's origin
	Spec     PoolSpec
	Elements []*Element // static elements; Health is ignored (kept from before or derived from the probe spec)
	Line     int        // of the $POOL directive, for messages
}

// Node is a name with static records (or an empty non-terminal: no records).
type Node struct {
	Name string // as written in the zone file, for answers
	// RRs maps a type to its RRset, in file order.
	RRs map[uint16][]dns.RR
}

// Zone is the immutable static part of a served zone plus its pools. A zone
// reload publishes a new Zone; a change of one pool publishes only that
// pool's view.
type Zone struct {
	Origin string // lower-case FQDN
	File   string
	SOA    *dns.SOA
	// NegTTL is the TTL of negative answers: min(SOA TTL, SOA minimum)
	// (RFC 2308 §5).
	NegTTL uint32
	// Nodes holds every name that exists statically, keyed by its lower-case
	// name: names with records, and the empty non-terminals above them.
	Nodes map[string]*Node

	pools map[string]*poolSlot // by handle
}

// Pool returns the current view of the pool with the given handle, or nil.
func (z *Zone) Pool(handle string) *PoolView {
	if s := z.pools[handle]; s != nil {
		return s.View()
	}
	return nil
}

// PoolHandles returns the handles of the zone's pools, in no order.
func (z *Zone) PoolHandles() []string {
	hs := make([]string, 0, len(z.pools))
	for h := range z.pools {
		hs = append(hs, h)
	}
	return hs
}

// View is an immutable view of the handlespace: every served zone.
type View struct {
	zones map[string]*Zone
	// maxLabels is the largest number of labels of a served origin.
	maxLabels int
}

// Zone returns the served zone with the given origin, or nil.
func (v *View) Zone(origin string) *Zone { return v.zones[origin] }

// Pool returns the pool named name (a lower-case FQDN: its handle, then
// its zone's origin), or nil.
func (v *View) Pool(name string) *PoolView {
	handle, origin, ok := strings.Cut(name, ".")
	if !ok || handle == "" {
		return nil
	}
	if origin == "" {
		origin = "."
	}
	z := v.zones[origin]
	if z == nil {
		return nil
	}
	return z.Pool(handle)
}

// Zones returns every served zone, in no order.
func (v *View) Zones() []*Zone {
	zs := make([]*Zone, 0, len(v.zones))
	for _, z := range v.zones {
		zs = append(zs, z)
	}
	return zs
}

// FindZone returns the served zone that is the closest enclosing zone of
// name (a lower-case FQDN), or nil when no served zone contains it.
func (v *View) FindZone(name string) *Zone {
	if len(v.zones) == 0 {
		return nil
	}
	off := 0
	// Skip the labels that are longer than any origin could match.
	for skip := countLabels(name) - v.maxLabels; skip > 0; skip-- {
		i := indexLabelEnd(name, off)
		if i < 0 {
			return nil
		}
		off = i + 1
	}
	for off < len(name) {
		if z := v.zones[name[off:]]; z != nil {
			return z
		}
		i := indexLabelEnd(name, off)
		if i < 0 {
			break
		}
		off = i + 1
	}
	return v.zones["."]
}

// countLabels is dns.CountLabel, faster for the names queries carry: one
// without escapes has as many labels as dots (but the root, which has
// none), and strings.Count finds them a word at a time.
func countLabels(name string) int {
	if strings.IndexByte(name, '\\') >= 0 {
		return dns.CountLabel(name)
	}
	if name == "." {
		return 0
	}
	return strings.Count(name, ".")
}

// indexLabelEnd returns the index of the dot that ends the label starting at
// off, honouring backslash escapes, or -1.
func indexLabelEnd(name string, off int) int {
	for i := off; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			return i
		}
	}
	return -1
}
