package regcommit

import (
	"net/netip"
	"sync"
	"time"
)

// maxSources bounds the table of per-source buckets: at the bound, full
// (idle) buckets are dropped, and if none is, new sources are refused until
// some are.
const maxSources = 65536

// limiter is a token bucket per source address.
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: map[netip.Addr]*bucket{}}
}

func (l *limiter) allow(from netip.Addr, now time.Time) bool {
	from = from.Unmap()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[from]
	if b == nil {
		if len(l.buckets) >= maxSources {
			for a, ob := range l.buckets {
				if ob.tokens+now.Sub(ob.last).Seconds()*l.rate >= l.burst {
					delete(l.buckets, a)
				}
			}
			if len(l.buckets) >= maxSources {
				return false
			}
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[from] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
