package vantage

import "time"

// Bucket is a token bucket on the caller's clock; its zero value is
// full at the first Take.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Take takes a token if there is one, refilling at rate a second up to
// burst.
func (b *Bucket) Take(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens, b.last = float64(burst), now
	}
	b.tokens = min(float64(burst), b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Req is a peer's request being carried out: who asked, and its nonce.
type Req struct {
	From, Nonce uint32
}

// Gate admits the peers' requests (see the package doc). Set its limits
// before use; a zero Rate or Burst admits nothing, a zero MaxInFlight
// is always Full.
type Gate struct {
	Rate        float64 // requests a second from one peer
	Burst       int
	MaxInFlight int
	// RefusalRate and RefusalBurst bound the refusals sent to one peer.
	RefusalRate  float64
	RefusalBurst int

	in, refusals map[uint32]*Bucket
	flight       map[Req]time.Time // until
}

// Allow takes a token of peer from's bucket, and reports whether there
// was one.
func (g *Gate) Allow(now time.Time, from uint32) bool {
	return take(&g.in, now, from, g.Rate, g.Burst)
}

// Refuse takes a token of peer from's refusals, and reports whether a
// refusal may be sent.
func (g *Gate) Refuse(now time.Time, from uint32) bool {
	return take(&g.refusals, now, from, g.RefusalRate, g.RefusalBurst)
}

func take(m *map[uint32]*Bucket, now time.Time, from uint32, rate float64, burst int) bool {
	if *m == nil {
		*m = map[uint32]*Bucket{}
	}
	b := (*m)[from]
	if b == nil {
		b = &Bucket{}
		(*m)[from] = b
	}
	return b.Take(now, rate, burst)
}

// Full reports whether MaxInFlight requests are being carried out.
func (g *Gate) Full() bool { return len(g.flight) >= g.MaxInFlight }

// Start notes that r is being carried out, until until (its budget).
func (g *Gate) Start(r Req, until time.Time) {
	if g.flight == nil {
		g.flight = map[Req]time.Time{}
	}
	g.flight[r] = until
}

// Done ends r and reports whether it was being carried out (false: it
// expired, or never started: too late to answer).
func (g *Gate) Done(r Req) bool {
	_, ok := g.flight[r]
	delete(g.flight, r)
	return ok
}

// Expire forgets the requests whose budget is over at now.
func (g *Gate) Expire(now time.Time) {
	for r, until := range g.flight {
		if !now.Before(until) {
			delete(g.flight, r)
		}
	}
}

// Next returns when the first request in flight expires (zero: none).
func (g *Gate) Next() time.Time {
	var next time.Time
	for _, until := range g.flight {
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	return next
}
