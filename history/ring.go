package history

import (
	"math"
	"strconv"
)

// agg is how a coarse point folds the samples it covers.
type agg uint8

const (
	aggMin  agg = iota // counts: the lowest sample, so that a dip shows
	aggMean            // rates: the mean
	aggSum             // events: the total
)

// ring is a fixed number of points at consecutive slots (a slot is a time
// divided by the ring's step). It holds the slots head-len+1 … head;
// slots skipped by add are NaN (no sample).
type ring struct {
	vals []float32
	head int64 // newest slot; valid when n > 0
	n    int64 // points ever added (capped at len(vals) in use)
}

func newRing(n int) ring { return ring{vals: make([]float32, n)} }

// put sets slot s to v. A slot older than the ring's oldest is dropped; a
// slot after head moves head there, with the slots in between NaN.
func (r *ring) put(s int64, v float32) {
	size := int64(len(r.vals))
	if r.n == 0 {
		r.head, r.n = s, 1
		r.vals[mod(s, size)] = v
		return
	}
	switch {
	case s > r.head:
		gap := s - r.head - 1
		if gap >= size {
			gap = size
		}
		for i := int64(1); i <= gap; i++ {
			r.vals[mod(s-i, size)] = nan
		}
		r.n = min(r.n+s-r.head, size)
		r.head = s
	case s <= r.head-size:
		return
	}
	r.vals[mod(s, size)] = v
}

// get returns slot s, NaN when the ring does not hold it.
func (r *ring) get(s int64) float32 {
	size := int64(len(r.vals))
	if r.n == 0 || s > r.head || s <= r.head-r.n || s <= r.head-size {
		return nan
	}
	return r.vals[mod(s, size)]
}

// window returns the n slots ending at last, oldest first.
func (r *ring) window(last int64, n int) Values {
	out := make(Values, n)
	for i := range out {
		out[i] = r.get(last - int64(n-1-i))
	}
	return out
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

var nan = float32(math.NaN())

// Values are the points of a series, oldest first; NaN is a slot without
// a sample and is written as null in JSON.
type Values []float32

// MarshalJSON writes the points as a JSON array with null for NaN and
// the shortest decimals that round-trip a float32.
func (v Values) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(v)*4)
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if x != x || math.IsInf(float64(x), 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads what MarshalJSON writes (null as NaN).
func (v *Values) UnmarshalJSON(b []byte) error {
	var raw []*float32
	if err := jsonUnmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Values, len(raw))
	for i, p := range raw {
		if p == nil {
			out[i] = nan
		} else {
			out[i] = *p
		}
	}
	*v = out
	return nil
}

// series is one measure in a short and a long ring, with the fold of the
// long ring's newest point.
type series struct {
	fine, coarse ring
	agg          agg
	every        int64 // fine slots per coarse slot

	accSlot int64 // the coarse slot being folded
	accN    int
	accSum  float64
	accMin  float32
}

func newSeries(points, coarsePoints, every int, a agg) *series {
	return &series{fine: newRing(points), coarse: newRing(coarsePoints), agg: a, every: int64(every), accSlot: math.MinInt64}
}

// add records v at fine slot s (and folds it into its coarse slot).
func (s *series) add(slot int64, v float32) {
	s.fine.put(slot, v)
	cs := floorDiv(slot, s.every)
	if cs != s.accSlot {
		if cs < s.accSlot {
			return // a sample from before the fold: the fine ring has it
		}
		s.accSlot, s.accN, s.accSum, s.accMin = cs, 0, 0, v
	}
	if v != v {
		return
	}
	s.accN++
	s.accSum += float64(v)
	s.accMin = min(s.accMin, v)
	if s.accN == 1 {
		s.accMin = v
	}
	var c float32
	switch s.agg {
	case aggMin:
		c = s.accMin
	case aggMean:
		c = float32(s.accSum / float64(s.accN))
	default:
		c = float32(s.accSum)
	}
	s.coarse.put(cs, c)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
