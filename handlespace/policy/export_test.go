package policy

import (
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Distance returns element e's distance in milliseconds as the
// distance-penalty policies of a pool with the given distance step see
// it: half of NearestRTT(e) rounded to the nearest multiple of step (0 or
// less: DefaultDistanceStep); 0 when the RTT is not known.
func Distance(e *handlespace.Element, step time.Duration) uint32 {
	return uint32(distOf(handlespace.PoolSpec{DistanceStep: step}).distance(e))
}
