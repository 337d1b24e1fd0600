package wire

import "math"

// The ownership checksum of RFC 5353 (the handlespace audit): every
// registrar sends, in each PRESENCE, a 16-bit checksum of the pool elements
// it owns, and every peer compares it with the checksum of the elements it
// believes that registrar owns. It is the Internet checksum (RFC 1071): the
// 16-bit one's complement sum, complemented, of the big-endian 16-bit words
// of each owned element's pool handle (zero-padded to an even length)
// followed by its 4-byte PE identifier. A one's complement sum does not
// depend on the order of its terms, so it is kept incrementally: adding or
// removing an element adds or subtracts that element's folded sum.

// ElementSum is one element's term of the ownership checksum: the folded
// one's complement sum of its handle's words and its identifier's.
func ElementSum(handle string, id uint32) uint16 {
	var s uint64
	n := len(handle)
	for i := 0; i+1 < n; i += 2 {
		s += uint64(handle[i])<<8 | uint64(handle[i+1])
	}
	if n%2 == 1 {
		s += uint64(handle[n-1]) << 8
	}
	s += uint64(id>>16) + uint64(id&0xffff)
	return fold(s)
}

// fold reduces a sum of 16-bit words to one's complement 16 bits: the
// end-around-carry fold, which maps 0 to 0 and any other sum to
// 1..0xffff, whatever the order of the terms.
func fold(s uint64) uint16 {
	if s == 0 {
		return 0
	}
	return uint16((s-1)%0xffff + 1)
}

// SumAcc accumulates element sums. Its zero value is the empty set.
type SumAcc struct{ s uint64 }

// Add adds an element's sum.
func (a *SumAcc) Add(v uint16) { a.s += uint64(v) }

// Sub removes an element's sum that was added.
func (a *SumAcc) Sub(v uint16) { a.s -= uint64(v) }

// Checksum returns the checksum of the set: the complement of its folded
// sum (0xffff for the empty set).
func (a SumAcc) Checksum() uint16 { return ^fold(a.s) }

// clampMillis converts a duration in nanoseconds to int32 milliseconds,
// clamped to 0..MaxInt32.
func clampMillis(ns int64) int32 {
	ms := ns / 1e6
	switch {
	case ms < 0:
		return 0
	case ms > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(ms)
}
