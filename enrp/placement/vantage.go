package placement

import (
	"slices"
	"time"

	"github.com/poolnsd/poolnsd/handlespace"
)

// Health from more than one vantage point: the maths, in pure functions.
//
// When the home's probes would change an element's health, the home asks
// a few other live registrars (its vantage points) to probe the element
// once, now, and decides by quorum among those that answer within the
// probe timeout, its own verdict included. The vantage points of an
// element are the registrars that follow its home in the element's
// rendezvous order (Vantages): each element has its own, so the extra
// probes spread over the cluster, and they are the registrars that would
// become its home next.

// RendezvousOrder returns the registrars of live in element id of pool's
// rendezvous order: the one Rendezvous picks first, then the one it would
// pick without that one, and so on.
func RendezvousOrder(live []uint32, pool string, id uint32) []uint32 {
	type scored struct {
		r uint32
		s uint64
	}
	sc := make([]scored, len(live))
	for i, r := range live {
		sc[i] = scored{r, rendezvousScore(r, pool, id)}
	}
	slices.SortFunc(sc, func(a, b scored) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		case a.r < b.r:
			return -1
		case a.r > b.r:
			return 1
		}
		return 0
	})
	out := make([]uint32, len(sc))
	for i, x := range sc {
		out[i] = x.r
	}
	return out
}

// Vantages returns the registrars that home asks to confirm a change of
// health of element id of pool: the first n of live, home left out, in the
// element's rendezvous order. Fewer if live has fewer; none for n <= 0.
func Vantages(live []uint32, home uint32, pool string, id uint32, n int) []uint32 {
	if n <= 0 {
		return nil
	}
	var out []uint32
	for _, r := range RendezvousOrder(live, pool, id) {
		if r == home {
			continue
		}
		out = append(out, r)
		if len(out) == n {
			break
		}
	}
	return out
}

// Vote is what one vantage point's probe saw of an element: up or down
// (unknown: it could not probe, and the vote does not count).
type Vote struct {
	Registrar uint32
	Health    handlespace.Health
}

// Quorum decides an element's health from the votes of the vantage points
// that answered in time, the home's own (which proposes the change)
// among them; cur is the health now published. Only up and down votes
// count. need is quorum clamped to the votes that count, or, for quorum
// <= 0, a strict majority of them. The proposed health wins when need
// votes see it; else the current one stays, unless it is unknown, when
// the other health wins with need votes, and the proposed one without.
// The element is disputed when the counted votes disagree; then views are
// the counted votes, sorted by registrar (what Element.Vantage holds),
// else nil.
func Quorum(cur, proposed handlespace.Health, votes []Vote, quorum int) (verdict handlespace.Health, views []handlespace.Vantage) {
	var up, down int
	for _, v := range votes {
		switch v.Health {
		case handlespace.HealthUp:
			up++
		case handlespace.HealthDown:
			down++
		}
	}
	n := up + down
	need := n/2 + 1
	if quorum > 0 {
		need = min(quorum, n)
	}
	count := func(h handlespace.Health) int {
		switch h {
		case handlespace.HealthUp:
			return up
		case handlespace.HealthDown:
			return down
		}
		return 0
	}
	other := handlespace.HealthUp
	if proposed == handlespace.HealthUp {
		other = handlespace.HealthDown
	}
	switch {
	case count(proposed) >= need && need > 0:
		verdict = proposed
	case cur != handlespace.HealthUnknown:
		verdict = cur
	case count(other) >= need && need > 0:
		verdict = other
	default:
		verdict = proposed
	}
	if up > 0 && down > 0 {
		for _, v := range votes {
			if v.Health == handlespace.HealthUp || v.Health == handlespace.HealthDown {
				views = append(views, handlespace.Vantage{Registrar: v.Registrar, Health: v.Health})
			}
		}
		slices.SortFunc(views, func(a, b handlespace.Vantage) int {
			switch {
			case a.Registrar < b.Registrar:
				return -1
			case a.Registrar > b.Registrar:
				return 1
			}
			return 0
		})
	}
	return verdict, views
}

// Budgets returns how long a home waits for its vantage points' answers
// (total, from when it asks) and the budget each is given (how long it
// has from the request's arrival to its answer's sending), for a
// confirmation whose probes time out after wait (the element's probe
// timeout) and vantage points at the round-trip times rtts (0 unknown).
//
// A vantage point probes with the element's own timeout, which a far one
// needs (its probe is several round trips to the element): its budget is
// a quarter more than wait (it uses four fifths of it: the rest is for
// its scheduling), plus the farthest vantage point's round trip less its
// own, so that every answer is due back at once. The home waits that
// long after the farthest round trip: at most twice wait in all (the
// round trips counted are capped at three quarters of wait), so that
// confirmation adds at most one probe timeout to detection.
func Budgets(wait time.Duration, rtts []time.Duration) (total time.Duration, budgets []time.Duration) {
	limit := wait * 3 / 4
	far := time.Duration(0)
	for _, r := range rtts {
		far = max(far, min(max(r, 0), limit))
	}
	total = wait + wait/4 + far
	budgets = make([]time.Duration, len(rtts))
	for i, r := range rtts {
		budgets[i] = total - min(max(r, 0), limit)
	}
	return total, budgets
}
