package policy

import (
	"sync/atomic"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Test-only methods of the package's types, kept out of its production
// files.

// seqHolder is a selector with a sequence.
type seqHolder interface{ poolSeq() *atomic.Uint64 }

func (s *wrrSel) poolSeq() *atomic.Uint64 { return s.seq }

func (s *ludSel) poolSeq() *atomic.Uint64 { return s.seq }

// stateOf returns the charge count and last-charge stamp of element id.
func (s *ludSel) stateOf(id uint32) (count, last uint64) {
	path, idx, ok := s.leafOf(id, nil, nil)
	if !ok {
		return 0, 0
	}
	st := &path[len(path)-1].st[idx[len(idx)-1]]
	return st.count.Load(), st.last.Load()
}

// degradationOf returns element id's accumulated degradation.
func (s *ludSel) degradationOf(id uint32) uint64 {
	path, idx, ok := s.leafOf(id, nil, nil)
	if !ok {
		return 0
	}
	st := &path[len(path)-1].st[idx[len(idx)-1]]
	return st.count.Load() * st.deg
}

func (s *hashBig) poolSeq() *atomic.Uint64 { return s.seq }

func (s *rankSel) poolSeq() *atomic.Uint64 { return s.seq }

func (s *hashSel) poolSeq() *atomic.Uint64 { return s.seq }

func (s *rrSetSel) poolSeq() *atomic.Uint64 {
	_, seq := (*handlespace.ElementSet)(s).Set()
	return seq
}

func (s *rrSel) poolSeq() *atomic.Uint64 { return s.seq }
