package enrp

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
)

// Rendezvous returns the registrar among live (non-empty) that is home for
// the zone-file element id of pool: the one with the highest hash of
// (registrar, pool, id), ties to the lower ID. Every registrar computes the
// same home from the same live set, and removing a registrar moves only the
// elements it was home for.
func Rendezvous(live []uint32, pool string, id uint32) uint32 {
	var best uint32
	var bestScore uint64
	for i, r := range live {
		s := rendezvousScore(r, pool, id)
		if i == 0 || s > bestScore || (s == bestScore && r < best) {
			best, bestScore = r, s
		}
	}
	return best
}

func rendezvousScore(r uint32, pool string, id uint32) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], r)
	binary.BigEndian.PutUint32(b[4:], id)
	h.Write(b[:4])
	h.Write([]byte(pool))
	h.Write(b[4:])
	// FNV's low bits mix poorly over similar inputs: finish with a
	// splitmix64 step.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// sortedIDs returns ids sorted ascending (a copy).
func sortedIDs(ids []uint32) []uint32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
