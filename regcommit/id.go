package regcommit

import (
	"fmt"
	"hash/fnv"

	"github.com/poolnsd/poolnsd/handlespace"
)

// LabelID returns the identifier that a label asks for: the label itself
// when it is eight hex digits (explicit), else the FNV-1a hash of the label.
func LabelID(label string) (id uint32, explicit bool) {
	if len(label) == 8 {
		if id, err := handlespace.ParseID(label); err == nil {
			return id, true
		}
	}
	h := fnv.New32a()
	h.Write([]byte(label))
	return h.Sum32(), false
}

// maxProbe bounds the search for a free identifier after a hash collision.
const maxProbe = 1024

// claimSet holds the identifiers that registrations of the current batch
// were given, by pool, so that two new labels of one batch never get the
// same one.
type claimSet map[string]map[uint32]string

// assign returns the identifier of the element label of pool: cur's if it
// exists, else the label's own (LabelID), else, after a hash collision, the
// next free one.
func (c claimSet) assign(pv *handlespace.PoolView, pool, label string, cur *handlespace.Element) (uint32, error) {
	if cur != nil {
		return cur.ID, nil
	}
	claimed := c[pool]
	if claimed == nil {
		claimed = map[uint32]string{}
		c[pool] = claimed
	}
	taken := func(id uint32) (string, bool) {
		if l, ok := claimed[id]; ok && l != label {
			return l, true
		}
		if pv != nil {
			if e := pv.Element(id); e != nil && e.Label.String() != label {
				return e.Label.String(), true
			}
		}
		return "", false
	}
	id, explicit := LabelID(label)
	if explicit {
		if other, ok := taken(id); ok {
			return 0, refused("identifier %s of %s.%s is taken by element %s", label, label, pool, other)
		}
		claimed[id] = label
		return id, nil
	}
	for i := 0; i < maxProbe; i++ {
		if _, ok := taken(id); !ok && id != 0 {
			claimed[id] = label
			return id, nil
		}
		id++
	}
	return 0, &Error{Code: Refused, Msg: fmt.Sprintf("no free identifier near the hash of %s in %s", label, pool)}
}
