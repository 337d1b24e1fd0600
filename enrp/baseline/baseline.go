// Package baseline keeps, for package enrp's Node, what the lost home of
// each zone-file element last said of it: the base on which that home's
// push, when the two registrars meet again, is a delta.
//
// # Basics
//
// When a registrar finds a peer dead (a partition, a cut link, a stop),
// the zone-file elements the peer homed move to the registrars it still
// sees live, which probe them with their own round-trip times and may
// reach other verdicts: its copies stop being the peer's word. Lost
// records, as it happens, the element as the lost home last said it
// (when the copy was its word: heard). The peer, pushing its own
// elements when they meet again, sends only those it changed since it
// lost this registrar (wire.HandoffDelta); at the push's end Take gives
// back the bases of the others, which the Node puts back: with the
// push, its copies are the peer's current word, without a round trip
// (the far site's push of 200 elements took one in the namespace lab)
// and without a table pulled for the digests.
//
// Said forgets an element's base when its home's word replaces it (an
// update, a page of the push). Back notes that a home is live again: a
// base it never pushed over is not carried into a later loss.
//
// # Caveats
//
// Correctness never rests on it: a base that does not match the home's
// state (a message lost just before the loss, a home that moved, a
// receiver that restarted) leaves the digests apart, and the next
// PRESENCE's audit pulls the home's table as before. A Set is not safe
// for concurrent use; the Node holds it. Elements are never modified
// once made (the Node replaces them), so a base holds its element as is.
package baseline

import (
	"cmp"
	"slices"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Key names an element: its pool and identifier.
type Key struct {
	Pool string
	ID   uint32
}

// Base is an element as its lost home From last said it.
type Base struct {
	Key
	From uint32
	Elem *handlespace.Element
}

type base struct {
	from uint32
	e    *handlespace.Element
	back bool // from was live again since
}

// Set is the bases of the elements whose home was lost.
type Set struct {
	m map[Key]base
}

// Lost notes that from, the home of k, left the live set; e is the
// registrar's copy then, and heard whether it is from's word. A copy
// that is not (the element moved there from a home lost before, which
// is still away) keeps the earlier home's base.
func (s *Set) Lost(k Key, from uint32, e *handlespace.Element, heard bool) {
	if b, ok := s.m[k]; ok && !heard && !b.back {
		return
	}
	if !heard {
		delete(s.m, k)
		return
	}
	if s.m == nil {
		s.m = map[Key]base{}
	}
	s.m[k] = base{from: from, e: e}
}

// Back notes that from is live again.
func (s *Set) Back(from uint32) {
	for k, b := range s.m {
		if b.from == from {
			b.back = true
			s.m[k] = b
		}
	}
}

// Said notes that from's word on k replaced the copy: its base, if from
// gave it, is of no more use.
func (s *Set) Said(k Key, from uint32) {
	if b, ok := s.m[k]; ok && b.from == from {
		delete(s.m, k)
	}
}

// Take returns the bases that from gave, sorted by key, and forgets
// them.
func (s *Set) Take(from uint32) []Base {
	var out []Base
	for k, b := range s.m {
		if b.from == from {
			out = append(out, Base{Key: k, From: from, Elem: b.e})
			delete(s.m, k)
		}
	}
	slices.SortFunc(out, func(a, b Base) int {
		if c := cmp.Compare(a.Pool, b.Pool); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}
