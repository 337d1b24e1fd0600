package handlespace

import (
	"sync"
	"sync/atomic"
)

// Owner is who registered an element (Element.Owner), for quotas and so
// that one registrant cannot take over another's element: "tsig:KEYNAME",
// "http", or "" (the zero Owner) for zone-file elements.
//
// It is a small number, not a string: an element holds no pointer for
// it, so that the collector does not follow one per element at each
// cycle (at a million elements a pointer per element costs the mark
// phase a few milliseconds). The numbers index a table of every distinct
// owner made in the process, which only grows: owners are TSIG key names
// (the registrars' configured keys) and "http", few. Past ownerMax
// distinct owners, OwnerOf gives OwnerOverflow, which no registrant is.
type Owner uint32

// ownerMax is the most distinct owners the table holds.
const (
	ownerChunk = 1 << 12
	ownerMax   = ownerChunk * ownerChunk
)

// OwnerOverflow is what OwnerOf returns once the table is full (more than
// 16 million distinct owners): its String names no registrant, so that
// only an admin may change its elements.
const OwnerOverflow Owner = ownerMax

var owners struct {
	mu     sync.Mutex
	ids    map[string]Owner
	n      uint32                                         // owners in chunks; guarded by mu
	chunks [ownerChunk]atomic.Pointer[[ownerChunk]string] // id → string, written once
}

// OwnerOf returns the Owner named s ("" gives the zero Owner). Safe for
// concurrent use: it takes the table's lock (once per registration or
// stored element read; String takes none).
func OwnerOf(s string) Owner {
	if s == "" {
		return 0
	}
	owners.mu.Lock()
	defer owners.mu.Unlock()
	if o, ok := owners.ids[s]; ok {
		return o
	}
	if owners.ids == nil {
		owners.ids = make(map[string]Owner)
		owners.n = 1 // 0 is ""
	}
	if owners.n >= ownerMax {
		return OwnerOverflow
	}
	o := Owner(owners.n)
	c := owners.chunks[o/ownerChunk].Load()
	if c == nil {
		c = new([ownerChunk]string)
		owners.chunks[o/ownerChunk].Store(c)
	}
	c[o%ownerChunk] = s
	owners.ids[s] = o
	owners.n++
	return o
}

// String returns the owner's name.
func (o Owner) String() string {
	if o == 0 {
		return ""
	}
	if o >= ownerMax {
		return "(owner table full)"
	}
	return owners.chunks[o/ownerChunk].Load()[o%ownerChunk]
}
